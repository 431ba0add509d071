"""Scrubbing never breaks JSON: a display name holding a URL or path query next to a quote or a
backslash (escaped in JSON text) leaves run.json, clones.csv, the SARIF log and `scan --json` readable,
while a real signed URL's query is still removed."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from audit.cli import main
from audit.core.secrets import scrub
from audit.emulator import EmulatorServer

SIGNED = "https://cdn.example/clip.wav?X-Amz-Signature=deadbeefcafe0123&X-Amz-Expires=600"
NAMES = ['Eve https://cdn.example/v?x="1', "Ann https://cdn.example/v?x=\\\"2", 'Bob /tts?auth=z"q\\',
         "Cy v1/x?token=a\\b\"c\\", "Di " + SIGNED]


@pytest.mark.parametrize("name", NAMES)
def test_scrubbed_json_text_still_parses(name: str) -> None:
    for text in (json.dumps({"n": name}), json.dumps({"n": name}, ensure_ascii=False, indent=2)):
        assert isinstance(json.loads(scrub(text))["n"], str)
    assert "deadbeefcafe0123" not in scrub(json.dumps({"n": SIGNED}))


@pytest.mark.integration
def test_a_scan_of_clones_named_with_urls_writes_files_that_parse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    with EmulatorServer.with_org(n=len(NAMES) + 1, seed=4, tts_concurrency=4) as server:
        monkeypatch.setenv("SMALLEST_API_KEY", server.api_key)
        monkeypatch.setenv("SMALLEST_BASE_URL", server.base_url)
        ids = [c.voice_id for c in server.state.clones()][:len(NAMES)]
        for voice_id, name in zip(ids, NAMES, strict=True):
            record = server.state.clone(voice_id)
            assert record is not None
            key = next(k for k in record.fields if "name" in k.lower())
            server.state.remove_clone(voice_id)
            server.state.add_clone(replace(record, fields={**record.fields, key: name}))
        main(["scan", "--out", str(out), "--json"])
        summary = json.loads(capsys.readouterr().out)
    assert summary
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert len(run["voices"]) == len(NAMES) + 1
    rows = list(csv.DictReader(io.StringIO((folder / "clones.csv").read_text(encoding="utf-8"))))
    assert len(rows) == len(NAMES) + 1
    for path in folder.rglob("*"):
        assert "deadbeefcafe0123" not in path.read_text(encoding="utf-8", errors="replace") if path.is_file() else True
    assert "deadbeefcafe0123" not in json.dumps(summary)


def test_a_sarif_log_of_a_mapping_named_with_urls_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = "voice_AAAAAAAAAA", "voice_NNNNNNNNNN"
    mapping = tmp_path / "mapping.csv"
    with mapping.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["old_voice_id", "new_voice_id", "status", "display_name"],
                                 [old, new, "ready", NAMES[0] + " " + SIGNED]])
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(f"V = '{old}'\n", encoding="utf-8")
    main(["cutover", str(mapping), str(repo), "--format", "sarif"])
    text = capsys.readouterr().out
    log = json.loads(text)
    assert log["runs"][0]["results"]
    assert "deadbeefcafe0123" not in text
