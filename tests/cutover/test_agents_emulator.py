"""`cutover MAPPING --agents` through the real command line against the emulator's seeded agents:
the dry run's diff, the switch of ready ids (a colleague's open draft left alone), the rollback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cli import clone_audit, planned_account

pytestmark = pytest.mark.integration

KEY = "sk_live_AGENTSEMU_0123456789abcdef"


def live_voice(server, name: str) -> str:  # noqa: ANN001
    book = server.state.agents
    (agent_id,) = [i for i in book.ids() if book.get_agent(i)["name"] == name]
    return book.live_config(agent_id)["synthesizer"]["voiceConfig"]["voiceId"]


def test_agents_are_found_switched_and_rolled_back(tmp_path: Path) -> None:
    with planned_account(tmp_path, KEY, 16, 7) as account:
        server, env = account.server, account.env
        assert clone_audit("apply", str(account.plan_file), "--yes", env=env).returncode in (0, 1)
        mapping = account.plan_file.parent / "mapping.csv"
        before = live_voice(server, "Front Desk")
        assert before in mapping.read_text(encoding="utf-8")

        dry = clone_audit("cutover", str(mapping), "--agents", env=env)
        assert dry.returncode == 1, dry.stdout + dry.stderr
        assert "(Front Desk) · branch main [live] · head" in dry.stdout.replace("Main", "main")
        assert f"-  synthesizer.voiceConfig.voiceId: {before}" in dry.stdout
        assert live_voice(server, "Front Desk") == before  # a dry run changes nothing
        triage = live_voice(server, "Support Triage")

        done = clone_audit("cutover", str(mapping), "--agents", "--write", "--yes", env=env)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        assert live_voice(server, "Front Desk") != before
        assert live_voice(server, "Support Triage") == triage  # Dana's open draft: not touched
        assert re.search(r"skipped: agent \S+ \(Support Triage\).*open draft", done.stdout), done.stdout
        record = re.search(r"undo with: clone-audit cutover --rollback (\S+)", done.stdout)
        assert record is not None, done.stdout

        undone = clone_audit("cutover", "--rollback", record.group(1), env=env)
        assert undone.returncode == 0, undone.stdout + undone.stderr
        assert live_voice(server, "Front Desk") == before


@pytest.mark.parametrize("fault", ["agents_page_loop", "agents_truncated", "agents_garbage", "agents_wrong_shape",
                                   "agents_huge"])
def test_hostile_agent_pages_stop_the_find_with_one_clear_line(start_emulator, tmp_path: Path, fault: str) -> None:  # noqa: ANN001
    from audit.emulator import Fault

    from tests.support.cli import cli_env
    from tests.support.cutover import write_mapping

    server = start_emulator(**{fault: Fault(every=1)}, huge_list_bytes=24 << 20, agent_count=120)  # over one page
    done = clone_audit("cutover", str(write_mapping(tmp_path)), "--agents", "--write", "--yes", env=cli_env(server))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "agent" in done.stderr and "Traceback" not in done.stderr
    assert not [r for r in server.state.requests() if r.method in ("PUT", "POST")]  # nothing was written
