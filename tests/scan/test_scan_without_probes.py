"""A scan without probes never calls a voice compliant, or fixed, that a probe heard fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.emulator import EmulatorServer
from tests.support.cli import clone_audit

pytestmark = pytest.mark.integration

KEY = "sk_live_NOPROBES_0123456789abcdef"


def scan(out: Path, base_url: str, *flags: str) -> dict:  # type: ignore[type-arg]
    done = clone_audit("scan", "--out", str(out), *flags, env={"SMALLEST_API_KEY": KEY, "SMALLEST_BASE_URL": base_url})
    assert done.returncode in (0, 1, 4), done.stderr
    run_json = Path(done.stdout.rstrip().splitlines()[-1].removeprefix("Run: "))
    return json.loads(run_json.read_text(encoding="utf-8"))


def test_a_scan_without_probes_carries_the_failures_a_probe_heard(tmp_path: Path) -> None:
    with EmulatorServer.with_org(n=60, seed=4, api_key=KEY, tts_concurrency=2) as server:
        probed = scan(tmp_path, server.base_url)
        heard_fail = {v["voice_id"]: v for v in probed["voices"]
                      if v["probe_verdict"] in ("short-wav", "silent") and v["verdict"] == "non-compliant"}
        claims_v31 = {v for v, row in heard_fail.items() if row["compatibility"] == "v3.1"}
        assert claims_v31, "the org must hold voices whose metadata lies"
        seen = len(server.state.requests())
        blind = scan(tmp_path, server.base_url, "--probe", "none")
        assert [e.path for e in server.state.requests()[seen:] if "tts" in e.path] == []  # no probe was made
    after = {v["voice_id"]: v for v in blind["voices"]}
    for voice_id, before in heard_fail.items():
        row = after[voice_id]
        assert row["verdict"] == "non-compliant", (voice_id, row["reason"])
        assert row["probe_reused"] and row["probed_at"] == before["probed_at"]  # the evidence, with its date
        assert row["change"] != "fixed"
    assert blind["history"]["changes"]["counts"]["fixed"] == 0
