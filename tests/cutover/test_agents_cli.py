"""`clone-audit cutover MAPPING --agents` through the command line (in process, the API mocked by respx)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import respx

from audit.cli.entry import main
from audit.core.apikey import ENV_API_KEY
from audit.cutover.agents import AgentHit, TooDeep, switch_fields, voice_places
from tests.support.atomsfake import BASE, FakeAtoms
from tests.support.cutover import NEW, OLD, write_mapping

ARGS = ["--base-url", BASE]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_API_KEY, "sk_test_0123456789abcdef")


def voice(fake: FakeAtoms) -> str:
    return fake.agents[0].branches[0].head.config["synthesizer"]["voiceConfig"]["voiceId"]


def test_dry_run_prints_the_diff_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = write_mapping(tmp_path)
    fake = FakeAtoms()
    agent = fake.agent("Front desk", OLD)
    with respx.mock as router:
        fake.install(router)
        code = main(["cutover", str(mapping), "--agents", *ARGS])
    out = capsys.readouterr().out
    assert code == 1 and fake.writes == [] and voice(fake) == OLD
    assert f"agent {agent.id} (Front desk) · branch main [live] · head" in out
    assert f"+  synthesizer.voiceConfig.voiceId: {NEW}" in out and "--write switches" in out


def test_write_needs_a_confirmation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = write_mapping(tmp_path)
    fake = FakeAtoms()
    fake.agent("Front desk", OLD)
    with respx.mock as router:
        fake.install(router)
        code = main(["cutover", str(mapping), "--agents", "--write", *ARGS])  # stdin is no terminal here
    assert code == 2 and fake.writes == [] and voice(fake) == OLD
    assert "confirm" in capsys.readouterr().err


def test_write_then_rollback_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = write_mapping(tmp_path)
    fake = FakeAtoms()
    fake.agent("Front desk", OLD)
    with respx.mock as router:
        fake.install(router)
        code = main(["cutover", str(mapping), "--agents", "--write", "--yes", *ARGS])
        out = capsys.readouterr().out
        assert code == 0 and voice(fake) == NEW, out
        record = re.search(r"undo with: clone-audit cutover --rollback (\S+)", out)
        assert record is not None
        code = main(["cutover", "--rollback", record.group(1), *ARGS])
    assert code == 0 and voice(fake) == OLD
    assert "restored: agent" in capsys.readouterr().out


def test_walk_is_generic_and_a_switch_touches_only_what_still_holds_the_old_id() -> None:
    config = {"synthesizer": {"voiceConfig": {"voiceId": OLD}},
              "workflowGraph": {"nodes": [{"data": {"voiceID": OLD}}, {"data": {"voiceId": 7}}]}}
    places = dict(voice_places(config))
    assert places == {("synthesizer", "voiceConfig", "voiceId"): OLD, ("workflowGraph", "nodes", 0, "data", "voiceID"): OLD}
    hit = AgentHit("a", "A", False, "b", "main", True, "head", None, ("synthesizer", "voiceConfig", "voiceId"),
                   OLD, NEW, True, "")
    stale = AgentHit("a", "A", False, "b", "main", True, "head", None, ("firstMessage",), OLD, NEW, True, "")
    held = AgentHit("a", "A", False, "b", "main", True, "head", None, ("workflowGraph", "nodes", 0, "data", "voiceID"),
                    OLD, NEW, False, "status failed")
    assert switch_fields(config, [hit, stale, held]) == {"synthesizer": {"voiceConfig": {"voiceId": NEW}}}
    assert config["synthesizer"]["voiceConfig"]["voiceId"] == OLD  # the config read is left as it was


def test_a_hostile_depth_is_walked_only_so_far() -> None:
    """Deeper than any config nests: not silently passed over (its voice ids are not all read)."""
    deep: dict = {"voiceId": OLD}
    for _ in range(500):
        deep = {"x": deep}
    with pytest.raises(TooDeep):
        list(voice_places(deep))


def test_rollback_waits_for_a_scan_as_long_as_scan_wait_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.pipeline import agentsundo

    mapping = write_mapping(tmp_path)
    fake = FakeAtoms()
    fake.agent("Front desk", OLD)
    waits: list[float] = []
    rollback = agentsundo.agents_rollback

    async def spied(client, record, options=None):  # noqa: ANN001, ANN202
        waits.append(options.scan_wait_s if options else 300.0)
        return await rollback(client, record, options)
    monkeypatch.setattr(agentsundo, "agents_rollback", spied)
    with respx.mock as router:
        fake.install(router)
        assert main(["cutover", str(mapping), "--agents", "--write", "--yes", *ARGS]) == 0
        (record,) = list(mapping.parent.rglob("agents-rollback-*.json"))
        assert main(["cutover", "--rollback", str(record), "--scan-wait", "7", *ARGS]) == 0
    assert waits == [7.0] and voice(fake) == OLD


def test_a_refused_confirmation_is_a_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Answering anything but the count at the question cancels: exit 130, nothing switched, no --yes advice."""
    mapping = write_mapping(tmp_path)
    fake = FakeAtoms()
    fake.agent("Front desk", OLD)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda *a: "n")
    with respx.mock as router:
        fake.install(router)
        code = main(["cutover", str(mapping), "--agents", "--write", *ARGS])
    err = capsys.readouterr().err
    assert code == 130 and fake.writes == [] and voice(fake) == OLD
    assert "Front desk" in err and f"{OLD} → {NEW}" in err  # what would change was shown first
    assert "cancelled: nothing was switched" in err and "--yes" not in err
