"""Every kind of run has its own page, in every format: what a reader sees first names the kind
and says what that run did, never a scan's advice on another kind's page.

Driven through the real command line against the emulator, once for the module: scan, plan, a
canary apply (--limit 2), retire (the API does not delete: the dashboard list), review, cutover
--write then --rollback, usage, and a last apply that leaves only BLOCKED voices. Each run's own
report.html, and `report RUN` in html, markdown, json and csv, are checked.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.cli.entry import main
from audit.cutover import record
from audit.cutover.rollback import RestoreOutcome
from audit.emulator.knobs import Fault
from audit.report.html import render_report_html
from audit.report.markdown import render_markdown
from audit.report.tables import COLUMNS
from tests.support.cli import Planned, clone_audit, planned_account, recorded, run_history


KEY = "sk_live_RUNKINDS_0123456789abcdef"
SCAN_ADVICE = "plan --archive"  # the scan's headline command
#: A word each kind's title, heading and first Markdown heading hold.
NAMED = {"scan": "scan", "plan": "plan", "apply": "apply", "review": "review", "retire": "retire",
         "cutover": "cutover", "usage": "usage"}
#: The start of each kind's first section heading on the HTML page (a scan's is its verdict cards).
FIRST = {"plan": "Migration plan", "apply": "Where each re-clone stands", "review": "Decisions taken",
         "retire": "What retire did", "cutover": "This cutover run", "usage": "Old voice ids called"}


@dataclass
class Runs:
    planned: Planned
    runs: dict[str, dict[str, Any]]  # kind → run.json (the last run of that kind, but `canary`)
    outputs: dict[str, subprocess.CompletedProcess[str]]
    plan: dict[str, Any]  # plan.json
    printed: dict[tuple[str, str], str] = field(default_factory=dict)  # `report RUN` asked once per run and format

    def folder(self, name: str) -> Path:
        return self.planned.out / self.runs[name]["run_id"]

    def report(self, name: str, fmt: str) -> str:
        """`clone-audit report RUN --format FMT`'s stdout: the command's own entry point, called in
        this process (offline, no API call: a child process would only add its start-up to each of 26)."""
        if (name, fmt) not in self.printed:  # the runs are finished: their reports do not change
            printed, errors = io.StringIO(newline=None), io.StringIO()  # newlines read as a text pipe reads them
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors), _logging_kept():
                code = main(["report", str(self.folder(name)), "--format", fmt, "--out", str(self.planned.out)])
            assert code == 0, errors.getvalue()
            self.printed[name, fmt] = printed.getvalue()
        return self.printed[name, fmt]


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """The logging set-up as it was before: a command run in process sets its own (handlers, levels)."""
    loggers = [logging.getLogger(name) for name in ("", "audit", "stamina")]
    kept = [(logger.handlers[:], logger.level) for logger in loggers]
    try:
        yield
    finally:
        for logger, (handlers, level) in zip(loggers, kept, strict=True):
            logger.handlers[:] = handlers
            logger.setLevel(level)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    tmp = tmp_path_factory.mktemp("kinds")
    with planned_account(tmp, KEY, 24, 6, wrong_speaker=Fault(every=2), traffic_days=2) as planned:
        env, out, plan_file = planned.env, planned.out, planned.plan_file
        done: dict[str, subprocess.CompletedProcess[str]] = {"scan": planned.scanned, "plan": planned.planned}
        done["canary"] = clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=env)
        done["retire"] = clone_audit("retire", str(plan_file), "--yes", env=env)
        mapping = json.loads((plan_file.parent / "mapping.json").read_text(encoding="utf-8"))["mapping"]
        (mismatch,) = [r["old_voice_id"] for r in mapping if r["status"] == "mismatch"]
        (ready,) = [r["old_voice_id"] for r in mapping if r["status"] == "ready"]
        done["review"] = clone_audit("review", str(plan_file), "--accept", mismatch, env={"USER": "ann"})
        app = tmp / "app"
        app.mkdir()
        (app / "voices.py").write_text(f'VOICE = "{ready}"\n', encoding="utf-8")
        written = clone_audit("cutover", str(plan_file.parent / "mapping.csv"), str(app), "--write")
        assert written.returncode == 0, written.stdout + written.stderr
        rollback_file = next(line.split(": ", 1)[1] for line in written.stdout.splitlines()
                             if line.startswith("Rollback file: "))
        done["cutover"] = clone_audit("cutover", "--rollback", rollback_file)
        done["usage"] = clone_audit("usage", str(plan_file.parent / "mapping.csv"), "--since", "2000-01-01", env=env)
        done["apply"] = clone_audit("apply", str(plan_file), "--yes", env=env)  # the rest: only BLOCKED left
        kinds = {name: ("apply" if name == "canary" else name) for name in done}
        history = run_history(out)  # asked once: each run's row is written once, when it ends
        runs = {name: recorded(d, kinds[name], out, history) for name, d in done.items()}
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
        yield Runs(planned, runs, done, plan)


def _first_h2(html: str) -> str:
    body = html.split("<h1", 1)[1]
    found = re.search(r"<h2[^>]*>(.*?)</h2>", body, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def _headline(html: str) -> str:
    found = re.search(r'id="headline">(.*?)</p>', html, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def _parts(html: str) -> tuple[str, str, str, str]:
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    h1 = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert title is not None and h1 is not None
    return title.group(1), h1.group(1), _headline(html), _first_h2(html)


@pytest.mark.integration
@pytest.mark.parametrize("kind", list(NAMED))
def test_each_kind_names_itself_and_leads_with_its_own_section(runs: Runs, kind: str) -> None:
    page = (runs.folder(kind) / "report.html").read_text(encoding="utf-8")
    title, h1, headline, first = _parts(page)
    assert NAMED[kind] in title.lower() and NAMED[kind] in h1.lower()
    if kind == "scan":
        # the verdicts come first, after any warning of what the scan could not tell
        unwarned = re.sub(r'<div class="banner".*?</div>', "", page, flags=re.S)
        assert unwarned.index('aria-label="summary"') < unwarned.index("<h2")
    else:
        assert first.startswith(FIRST[kind]), first
        assert SCAN_ADVICE not in headline
    markdown = runs.report(kind, "markdown")
    heading = markdown.splitlines()[0]
    assert heading.startswith("## ") and NAMED[kind] in heading.lower()
    if kind != "scan":
        assert SCAN_ADVICE not in markdown
    document = json.loads(runs.report(kind, "json"))
    assert document["kind"] == kind and isinstance(document[kind], dict)
    # `report RUN` re-renders the same kind-specific page as the run wrote
    assert _parts(runs.report(kind, "html")) == (title, h1, headline, first)


@pytest.mark.integration
def test_the_plan_lists_its_actions_forecast_and_reclones_in_every_format(runs: Runs) -> None:
    reclone = [e["voice_id"] for e in runs.plan["entries"] if e["action"] == "RECLONE"]
    blocked = [e["voice_id"] for e in runs.plan["entries"] if e["action"] == "BLOCKED"]
    assert reclone and blocked
    markdown = runs.report("plan", "markdown")
    rows = [line for line in markdown.splitlines() if line.startswith("| RECLONE |") and "`voice_" in line]
    assert len(rows) == len(reclone) and all(any(v in row for row in rows) for v in reclone)
    assert "Forecast" in markdown and all(v in markdown for v in blocked)
    document = json.loads(runs.report("plan", "json"))
    assert document["plan"]["actions"]["RECLONE"] == len(reclone)
    assert document["plan"]["forecast"]["reclones"] == len(reclone)
    assert sorted(v for ids in document["plan"]["blocked"].values() for v in ids) == sorted(blocked)
    table = list(csv.DictReader(io.StringIO(runs.report("plan", "csv"))))
    assert sorted(r["voice_id"] for r in table if r["action"] == "RECLONE") == sorted(reclone)


@pytest.mark.integration
def test_a_canary_apply_shows_how_many_voices_were_not_started(runs: Runs) -> None:
    reclone = sum(e["action"] == "RECLONE" for e in runs.plan["entries"])
    assert reclone > 2
    document = json.loads(runs.report("canary", "json"))
    counts = document["apply"]
    assert counts["not_started"] == reclone - 2
    assert (counts["verified"], counts["mismatches"]) == (1, 1)
    page = (runs.folder("canary") / "report.html").read_text(encoding="utf-8")
    assert f'<div class="n">{reclone - 2}</div>not started' in page
    assert f"| not started | {reclone - 2} |" in runs.report("canary", "markdown")
    rows = list(csv.DictReader(io.StringIO(runs.report("canary", "csv"))))
    states = sorted(r["migration_status"] for r in rows if r["migration_status"])
    assert states == ["mismatch", "ready"] and all(r["new_voice_id"] for r in rows if r["migration_status"])


@pytest.mark.integration
def test_an_apply_with_only_blocked_voices_left_does_not_advise_going_on(runs: Runs) -> None:
    document = json.loads(runs.report("apply", "json"))
    assert document["apply"]["not_started"] == 0 and document["apply"]["blocked"] > 0
    headline = _headline((runs.folder("apply") / "report.html").read_text(encoding="utf-8"))
    assert "again to go on" not in headline and SCAN_ADVICE not in headline
    assert "BLOCKED" in headline


@pytest.mark.integration
def test_retire_saves_the_dashboard_list_and_shows_it(runs: Runs) -> None:
    retire = runs.runs["retire"]["retire"]
    (voice,) = retire["for_dashboard"]
    saved = runs.folder("retire") / "delete-in-dashboard.txt"
    assert saved.read_text(encoding="utf-8").splitlines() == [voice]
    assert retire["dashboard_file"] == saved.name
    assert str(saved) in runs.outputs["retire"].stdout
    page = (runs.folder("retire") / "report.html").read_text(encoding="utf-8")
    first = page.split('id="run-retire"', 1)[1].split("</section>", 1)[0]
    assert voice in first and saved.name in first
    assert "awaiting review" in first  # kept, and why
    document = json.loads(runs.report("retire", "json"))
    assert document["retire"]["for_dashboard"] == [voice] and len(document["retire"]["kept"]) == 1
    assert voice in runs.report("retire", "markdown")
    # the CSV says what retire did with each voice, one column a spreadsheet can filter on
    outcomes = {r["voice_id"]: r["retire_outcome"] for r in csv.DictReader(io.StringIO(runs.report("retire", "csv")))}
    assert outcomes[voice] == "delete in the dashboard"
    assert sum(o.startswith("kept: ") for o in outcomes.values()) == 1


@pytest.mark.integration
def test_a_review_page_shows_the_decisions(runs: Runs) -> None:
    (accepted,) = runs.runs["review"]["review"]["accepted"]
    page = (runs.folder("review") / "report.html").read_text(encoding="utf-8")
    first = page.split('id="run-review"', 1)[1].split("</section>", 1)[0]
    assert accepted in first and "accepted" in first and "ann" in first


@pytest.mark.integration
def test_after_a_rollback_the_report_does_not_claim_no_occurrence_is_left(runs: Runs) -> None:
    document = json.loads(runs.report("cutover", "json"))
    assert document["cutover"]["occurrences_left"] == 1  # recounted: the rollback put the old id back
    assert document["cutover"]["rolled_back"] == 1
    assert "1 occurrence(s) left" in runs.outputs["cutover"].stdout
    for name in ("cutover", "usage", "apply"):  # every later page that shows the cutover record
        page = (runs.folder(name) / "report.html").read_text(encoding="utf-8")
        assert '<div class="n">0</div>occurrences left' not in page, name
    cutover = json.loads((runs.planned.plan_file.parent / "cutover.json").read_text(encoding="utf-8"))
    assert cutover["scan"]["remaining"] == 1


@pytest.mark.integration
def test_a_usage_page_leads_with_the_old_ids_called(runs: Runs) -> None:
    called = [r["old_voice_id"] for r in runs.runs["usage"]["cutover"]["usage"]["rows"] if r["calls"]]
    assert called
    page = (runs.folder("usage") / "report.html").read_text(encoding="utf-8")
    first = page.split('id="run-usage"', 1)[1].split("</section>", 1)[0]
    assert all(v in first for v in called)
    assert json.loads(runs.report("usage", "json"))["usage"]["still_called"] == len(called)


def test_a_rollback_that_cannot_recount_makes_the_count_unknown_never_zero(tmp_path: Path) -> None:
    """A file already original (or refused) at rollback: its ids were not counted, so the last
    count is not trusted, on the cutover record's card and on the rollback run's own page."""
    written = record.merge(None, Path("m.csv"), scan={"at": "t1", "paths": [], "files_scanned": 1, "seconds": 0.1,
                                                      "binary_skipped": 0, "unchecked": [], "unchecked_count": 0,
                                                      "occurrences": 2, "ready": 2, "not_ready": 0,
                                                      "files_with_ids": 2, "remaining": 0, "items": []})
    outcome = RestoreOutcome(tmp_path / "rollback.json", restored=[tmp_path / "a.py"], already=[tmp_path / "b.py"],
                             occurrences_restored=1)
    undone = record.restore_section(outcome, pd.Timestamp("2026-03-02", tz="UTC").to_pydatetime(), tmp_path,
                                    written["scan"])
    assert undone["remaining_after"] is None
    after = record.merge(written, Path("m.csv"), rollback=undone)
    assert after["scan"]["remaining"] is None
    meta = {"run_id": "r2", "kind": "cutover", "finished_at": "2026-03-02", "base_url": "http://x", "version": "0",
            "exit_code": 0, "parameters": {}, "cutover": {"rollback": undone}}
    frame = pd.DataFrame([], columns=list(COLUMNS))
    html = render_report_html(meta, frame, cutover=after)
    assert "occurrences left" in html and '<div class="n">0</div>occurrences left' not in html
    assert "unknown since the rollback" in html
    assert "| occurrences left | not known since the rollback |" in render_markdown(meta, frame)
    exact = record.restore_section(RestoreOutcome(tmp_path / "rollback.json", restored=[tmp_path / "a.py"],
                                                  occurrences_restored=2), pd.Timestamp("2026-03-02").to_pydatetime(),
                                   tmp_path, written["scan"])
    assert exact["remaining_after"] == 2  # every replacement undone put one old id back
    # every file already put back (by hand, by git): nothing restored, yet "0 left" is stale too
    by_hand = record.restore_section(RestoreOutcome(tmp_path / "rollback.json", already=[tmp_path / "a.py"]),
                                     pd.Timestamp("2026-03-02").to_pydatetime(), tmp_path, written["scan"])
    assert record.merge(written, Path("m.csv"), rollback=by_hand)["scan"]["remaining"] is None
