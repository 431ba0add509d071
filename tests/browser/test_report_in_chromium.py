"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Opens a report written through the real pipeline (three recorded scans of a generated org),
sorts, filters, searches and groups its tables as a person would, checks that nothing is
fetched and nothing logs an error, that the page still reads with scripts off, and keeps a
screenshot in `test-artifacts/` (or `$CLONE_AUDIT_ARTIFACTS`). Then paper and small screens: the
scan of a 2,000-voice organisation and a plan printed to PDF by `chromium --print-to-pdf` (pages
counted with pypdf: at most 60, and one page per 40 findings), ids never split and no column
cut off in print, every run kind's page (scan, plan, apply, review, retire, cutover, usage, made
through the command line) exactly 420 px wide at 420 px, chart text at least 12 px at 1400 px,
a caption and scope on every table, and the plan table sorted and filtered like the findings.
Without the browser the test skips on a workstation and FAILS in CI (`CI=true`): `.ci/run`
installs it.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bench import load_bench
from tests.support.cli import clone_audit

ROOT = Path(__file__).parents[2]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing in CI: .ci/run must install it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    bench = load_bench("report_scale")
    if shutil.which("chromium") is None and not Path(bench.CHROMIUM).exists():
        _missing("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=bench.CHROMIUM, args=bench.LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_bench("report_scale").write_reports(400, 3, tmp_path_factory.mktemp("reports"))


def _open(browser: Any, report: Path, **context: Any) -> tuple[Any, list[str], list[str]]:
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    fetched: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto(report.as_uri(), wait_until="load")
    return page, errors, fetched


def _rows(page: Any, table: int = 0) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        f"table.voices >> nth={table} >> tbody tr[data-v]",
        "rows => rows.map(r => ({v: r.dataset.v, c: r.dataset.c, bytes: r.cells[7].dataset.s, "
        "text: r.textContent}))",
    )


def test_the_report_sorts_filters_and_groups_in_chromium(browser: Any, report: Path) -> None:
    page, errors, fetched = _open(browser, report, viewport={"width": 1300, "height": 900})
    assert page.is_visible("#filters") and page.is_visible("#headline")
    assert page.locator("svg.chart").count() >= 3  # causes, probe sizes, trend
    assert page.locator("svg.chart circle.point").count() == 3  # three scans on the trend
    findings = _rows(page)
    assert {r["v"] for r in findings} == {"non-compliant", "unknown"}
    total = int(page.text_content("#shown").split(" of ")[1].split()[0])

    page.select_option("select[name=v]", "unknown")
    shown = _rows(page)
    assert shown and {r["v"] for r in shown} == {"unknown"}
    assert page.text_content("#shown").startswith(f"{len(shown)} of {total}")
    page.select_option("select[name=v]", "")

    page.select_option("select[name=c]", "short-wav")
    assert {r["c"] for r in _rows(page)} == {"short-wav"}
    page.select_option("select[name=c]", "")

    voice_id = findings[-1]["text"].split("voice_")[1][:10]
    page.fill("input[name=q]", f"voice_{voice_id}")
    page.wait_for_function("document.getElementById('shown').textContent.startsWith('1 of')")
    assert len(_rows(page)) == 1 and voice_id in _rows(page)[0]["text"]
    page.fill("input[name=q]", "")
    page.wait_for_function(f"document.getElementById('shown').textContent.startsWith('{total} of')")

    bytes_header = page.locator("table.voices >> nth=0 >> thead th >> nth=7 >> button")
    bytes_header.click()
    ascending = [float(r["bytes"]) for r in _rows(page) if r["bytes"]]
    assert ascending == sorted(ascending) and ascending[0] < ascending[-1]
    bytes_header.click()
    descending = [float(r["bytes"]) for r in _rows(page) if r["bytes"]]
    assert descending == sorted(descending, reverse=True)
    assert page.get_attribute("table.voices >> nth=0 >> thead th >> nth=7", "aria-sort") == "descending"

    page.select_option("select[name=g]", "c")
    groups = page.eval_on_selector_all("table.voices >> nth=0 >> tr.grp", "rs => rs.map(r => r.textContent)")
    assert groups and all(g.rstrip(")").split("(")[-1].isdigit() for g in groups)

    page.select_option("select[name=g]", "")
    page.select_option("select[name=v]", "compliant")  # opens the collapsed compliant voices
    assert page.get_attribute("#passing", "open") is not None
    assert {r["v"] for r in _rows(page, 1)} == {"compliant"}
    page.select_option("select[name=v]", "")

    artifacts = Path(os.environ.get("CLONE_AUDIT_ARTIFACTS", ROOT / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / "report-chromium.png"), full_page=False)
    assert errors == [] and fetched == []


def test_the_report_reads_without_scripts_and_at_420_px(browser: Any, report: Path) -> None:
    page, errors, fetched = _open(browser, report, java_script_enabled=False, viewport={"width": 420, "height": 900})
    assert not page.is_visible("#filters")  # the controls appear only when they work
    assert page.is_visible("#headline") and len(_rows(page)) > 0
    assert page.get_attribute("#passing", "open") is None  # compliant voices collapsed
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the page is {width} px wide at a 420 px viewport"
    page.emulate_media(media="print")
    assert not page.is_visible("#passing") and page.is_visible(".print-foot")
    assert errors == [] and fetched == []


# Paper and small screens ---------------------------------------------------------------------

KINDS = ("scan", "plan", "apply", "review", "retire", "cutover", "usage")
#: Rendered size of the smallest chart text in a 1400 px window: the font size times the SVG's scale.
CHART_TEXT_PX = """() => Array.from(document.querySelectorAll('svg.chart text')).map(t =>
    parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)"""


def _printed_pages(report: Path, folder: Path) -> int:
    """Pages of `report` as headless Chromium prints it to PDF (its own page size and margins)."""
    try:
        from pypdf import PdfReader
    except ImportError:
        _missing("pypdf")
    bench = load_bench("report_scale")
    pdf = folder / f"{report.parent.name}.pdf"
    done = subprocess.run([bench.CHROMIUM, *bench.LAUNCH_ARGS, f"--print-to-pdf={pdf}", report.as_uri()],
                          capture_output=True, text=True, timeout=300)
    assert pdf.exists(), done.stderr
    return len(PdfReader(pdf).pages)


@pytest.fixture(scope="module")
def big_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third recorded scan of a 2,000-voice organisation."""
    return load_bench("report_scale").write_reports(2000, 11, tmp_path_factory.mktemp("big"))


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One report of every kind of run, each made through the command line against an emulated
    organisation: scan, plan, apply (two voices, one of them speaking as someone else), review,
    retire, cutover --write and usage."""
    from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
    from audit.emulator.knobs import Fault

    work = tmp_path_factory.mktemp("kinds")
    key = "sk_live_PAPER_0123456789abcdef0123"
    org = generate_org(24, 6)
    generate_archive(org, work / "archive", 6)
    config = EmulatorConfig(api_key=key, pending_s=0.05, processing_s=0.05, tts_concurrency=2,
                            wrong_speaker=Fault(every=2), traffic_days=2)
    out, reports = work / "out", {}

    def report(kind: str, *args: str, env: dict[str, str] | None = None) -> Path:
        done = clone_audit(*args, env=env)
        lines = done.stdout.rstrip("\n").splitlines()
        assert lines and lines[-1].startswith("Run: "), done.stdout + done.stderr
        reports[kind] = Path(lines[-1].removeprefix("Run: ")).parent / "report.html"
        return reports[kind].parent

    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        env = {"SMALLEST_API_KEY": key, "SMALLEST_BASE_URL": server.base_url}
        report("scan", "scan", "--out", str(out), env=env)
        plan_file = report("plan", "plan", "--archive", str(work / "archive"), "--out", str(out), env=env) / "plan.json"
        report("apply", "apply", str(plan_file), "--yes", "--limit", "2", env=env)
        mapping = plan_file.parent / "mapping.csv"
        rows = list(csv.DictReader(mapping.open(encoding="utf-8", newline="")))
        (mismatch,) = [r["old_voice_id"] for r in rows if r["status"] == "mismatch"]
        report("review", "review", str(plan_file), "--accept", mismatch, env={"USER": "ann"})
        report("retire", "retire", str(plan_file), "--yes", env=env)
        app = work / "app"
        app.mkdir()
        (app / "voices.py").write_text("".join(f'VOICE = "{r["old_voice_id"]}"\n' for r in rows), encoding="utf-8")
        report("cutover", "cutover", str(mapping), str(app), "--write")
        report("usage", "usage", str(mapping), "--since", "2000-01-01", env=env)
    assert all(path.exists() for path in reports.values()) and set(reports) == set(KINDS)
    return reports


def test_a_2000_voice_scan_prints_on_at_most_60_pages(browser: Any, big_scan: Path, tmp_path: Path) -> None:
    page, errors, _ = _open(browser, big_scan, viewport={"width": 1300, "height": 900})
    findings = len(_rows(page))
    assert findings > 800  # what this organisation's scan finds
    pages = _printed_pages(big_scan, tmp_path)
    assert pages <= 60 and pages <= findings / 40, f"{pages} printed pages for {findings} findings"
    assert errors == []


def test_in_print_ids_are_whole_and_no_column_is_cut_off(browser: Any, report: Path) -> None:
    page, _, _ = _open(browser, report, viewport={"width": 1060, "height": 900})  # A4 landscape, inside margins
    page.emulate_media(media="print")
    split = page.evaluate("Array.from(document.querySelectorAll('td code')).filter(c => "
                          "c.offsetParent && c.getClientRects().length > 1).map(c => c.textContent)")
    assert split == [], f"ids broken across lines in print: {split[:5]}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1060, f"the printed page is {width} px wide: columns are cut off"
    reasons = page.evaluate("Array.from(document.querySelectorAll('table.voices td.reason'))"
                            ".filter(td => td.offsetParent).map(td => td.getBoundingClientRect().right)")
    assert reasons and max(reasons) <= 1060
    assert not page.is_visible("#filters") and page.is_visible("#passing + .print-only")


@pytest.mark.integration
def test_a_plan_prints_every_blocked_id_and_one_page_per_40_rows(browser: Any, kinds: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    page, errors, _ = _open(browser, kinds["plan"], viewport={"width": 1060, "height": 900})
    rows = page.locator("tbody tr").count()
    page.emulate_media(media="print")
    blocked = page.eval_on_selector_all("textarea.ids", "ts => ts.map(t => t.value.split('\\n'))")
    assert blocked, "this plan blocks some voices"
    printed = page.eval_on_selector_all(".ids-print", "ps => ps.filter(p => p.offsetParent).map(p => "
                                        "Array.from(p.querySelectorAll('code')).map(c => c.textContent))")
    assert printed == blocked  # every list complete, none cut at 8 lines
    pages = _printed_pages(kinds["plan"], tmp_path)
    assert pages <= 1 + math.ceil(rows / 40), f"{pages} printed pages for {rows} rows"
    assert errors == []


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_page_is_420_px_wide_in_a_420_px_window(browser: Any, kinds: dict[str, Path], kind: str) -> None:
    page, errors, fetched = _open(browser, kinds[kind], viewport={"width": 420, "height": 900})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width == 420, f"the {kind} page is {width} px wide at a 420 px viewport"
    tables = page.evaluate("Array.from(document.querySelectorAll('table')).map(t => ({caption: !!t.caption, "
                           "unscoped: Array.from(t.querySelectorAll('th:not([scope])')).length}))")
    assert tables and all(t["caption"] and not t["unscoped"] for t in tables), tables
    page.set_viewport_size({"width": 1400, "height": 900})
    sizes = page.evaluate(CHART_TEXT_PX)
    assert not sizes or min(sizes) >= 12, f"chart text {min(sizes):.1f} px on the {kind} page"
    assert errors == [] and fetched == []


def test_chart_text_is_at_least_12_px_in_a_1400_px_window_with_units(browser: Any, report: Path) -> None:
    page, _, _ = _open(browser, report, viewport={"width": 1400, "height": 900})
    sizes = page.evaluate(CHART_TEXT_PX)
    assert sizes and min(sizes) >= 12, f"chart text renders at {min(sizes):.1f} px"
    labels = page.eval_on_selector_all("svg.chart", "cs => cs.map(c => c.textContent)")
    assert any(" voices" in text for text in labels) and any("%" in text for text in labels)


@pytest.mark.integration
def test_the_plan_table_sorts_and_filters_like_the_findings(browser: Any, kinds: dict[str, Path]) -> None:
    page, errors, _ = _open(browser, kinds["plan"], viewport={"width": 1300, "height": 900})
    assert page.is_visible("#plan-filters")
    actions = "table.plan >> nth=0 >> tbody tr[data-a]"
    everything = page.eval_on_selector_all(actions, "rs => rs.map(r => r.dataset.a)")
    total = int(page.text_content("#plan-shown").split(" of ")[1].split()[0])
    assert {"RECLONE", "BLOCKED"} <= set(everything)
    page.select_option("#plan-filters select[name=a]", "BLOCKED")
    shown = page.eval_on_selector_all(actions, "rs => rs.map(r => r.dataset.a)")
    assert shown and set(shown) == {"BLOCKED"} and len(shown) == everything.count("BLOCKED")
    assert page.text_content("#plan-shown").startswith(f"{len(shown)} of {total}")
    page.select_option("#plan-filters select[name=a]", "")
    reason = page.locator("table.plan >> nth=0 >> thead th >> nth=4")
    reason.locator("button").click()
    reasons = page.eval_on_selector_all(actions, "rs => rs.map(r => r.cells[4].textContent.trim().toLowerCase())")
    assert reasons == sorted(reasons) and reason.get_attribute("aria-sort") == "ascending"
    page.select_option("#plan-filters select[name=g]", "a")
    groups = page.eval_on_selector_all("table.plan >> nth=0 >> tr.grp", "rs => rs.map(r => r.textContent)")
    assert len(groups) == len(set(everything))
    assert page.is_visible("#filters") and errors == []  # the findings keep their own controls
