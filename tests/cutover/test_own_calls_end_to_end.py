"""Through the CLI against the emulator: after a scan (which probes every legacy voice) and an
apply (which verifies every replacement), `usage`, `scan --usage` and `retire --quiet-since` do not count
clone-audit's own calls as callers, say how many they left out, and still count a real other
caller."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.cli import clone_audit, planned_account

pytestmark = pytest.mark.integration

KEY = "sk_live_OWNCALLS_0123456789abcdef"


def _run_json(stdout: str) -> dict:  # type: ignore[type-arg]
    return json.loads(Path(stdout.rstrip().splitlines()[-1].removeprefix("Run: ")).read_text(encoding="utf-8"))


def test_usage_and_retire_leave_out_the_tools_own_probes_but_not_another_caller(tmp_path: Path) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")  # before the scan
    with planned_account(tmp_path, KEY, 12, 3, delete_mode="ok") as account:
        server, env, plan_file = account.server, account.env, account.plan_file
        applied = clone_audit("apply", str(plan_file), "--yes", env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        with (plan_file.parent / "mapping.csv").open(encoding="utf-8", newline="") as handle:
            old_ids = [r["old_voice_id"] for r in csv.DictReader(handle) if r["status"] == "ready"]
        assert len(old_ids) >= 3
        probed = {r.voice_id for r in server.state.tts_log()}
        assert set(old_ids) <= probed  # the scan's probes are in the analytics log, as the API's are

        called = old_ids[0]  # another client of the account still uses this legacy voice
        answer = httpx.post(f"{server.base_url}/waves/v1/tts", timeout=10,
                            headers={"Authorization": f"Bearer {KEY}", "Accept": "audio/wav"},
                            json={"text": "Your order has shipped.", "voice_id": called, "model": "lightning_v3.1"})
        assert answer.status_code == 200

        rescan = clone_audit("scan", "--usage", "1", "--out", str(account.out), env=env)
        assert rescan.returncode in (0, 1), rescan.stdout + rescan.stderr
        scanned = _run_json(rescan.stdout)
        calls = {v["voice_id"]: v["usage_calls"] for v in scanned["voices"]}
        assert calls[called] == 1 and all(calls[v] == 0 for v in old_ids[1:])  # the earlier probes are not callers
        assert scanned["usage"]["own_calls_left_out"] >= 2 * len(old_ids)
        assert "left out" in rescan.stdout

        used = clone_audit("usage", str(plan_file.parent / "mapping.csv"), "--since", since, env=env)
        assert used.returncode == 1, used.stdout + used.stderr
        assert f"{called}  1 call(s)" in used.stdout
        assert f"1 of {len(old_ids)} old id(s) called" in used.stdout  # not every probed one
        left_out = _run_json(used.stdout)["cutover"]["usage"]["own_calls"]["left_out"]
        assert left_out >= 2 * len(old_ids)  # each old id's probe and its replacement's verification
        assert f"Left out {left_out} call(s) made by clone-audit's own probes" in used.stdout

        every = clone_audit("usage", "--since", since, "--out", str(account.out), env=env)
        assert every.returncode == 0, every.stdout + every.stderr
        assert f"{called}  1 call(s)" in every.stdout and "1 voice id(s) called" in every.stdout

        retired = clone_audit("retire", str(plan_file), "--quiet-since", since, "--yes", env=env)
        assert retired.returncode == 1, retired.stdout + retired.stderr  # one kept as still called
        assert f"Deleted {len(old_ids) - 1} legacy clone(s)." in retired.stdout
        assert server.state.clone(called) is not None
        assert all(server.state.clone(v) is None for v in old_ids[1:])
        section = _run_json(retired.stdout)["retire"]
        assert [u["voice_id"] for u in section["still_called"]] == [called]
        assert section["still_called"][0]["calls"] == 1
        assert section["own_calls"]["left_out"] >= len(old_ids)
        assert f"Left out {section['own_calls']['left_out']} call(s)" in retired.stdout
