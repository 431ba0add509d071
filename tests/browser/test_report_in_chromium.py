"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Opens a report written through the real pipeline (three recorded scans of a generated org),
sorts, filters, searches and groups its tables as a person would, checks that nothing is
fetched and nothing logs an error, that the page still reads with scripts off, and keeps a
screenshot in `test-artifacts/` (or `$CLONE_AUDIT_ARTIFACTS`). Without the browser the test
skips on a workstation and FAILS in CI (`CI=true`): `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bench import load_bench

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
