"""A scan as JUnit XML, so any CI shows a broken voice as a failed test.

Owns `render_junit(record)`: one `<testsuite>` per run, one `<testcase>` per voice (classname
`clone-audit.scan.<pool>`, or `clone-audit.scan` when the pool is not known; name the voice id
and its display name). A non-compliant voice is a `<failure>` (message: its cause; text: the
reason), one that could not be told (unknown: a failed probe, an unreadable listing) an
`<error>`, one excepted by a waiver `<skipped>` (owner, expiry and why); compliant and migrated
voices pass. The counts on the suite are those of its cases. Built with `xml.etree`, which
escapes markup; characters XML 1.0 cannot hold at all (controls, lone surrogates) and those a
viewer would hide (bidi overrides) are written as visible escapes first. Pure: a record in, text out.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from audit.core.models import Verdict
from audit.core.pools import Pool
from audit.core.untrusted import visible
from audit.runs.record import RunRecord, VoiceRow

SUITE = "clone-audit.scan"
#: What XML 1.0 cannot hold, even escaped (after `visible` turned controls into escapes).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Outcome(enum.StrEnum):
    """A test case that did not pass, as JUnit names it (the element inside `<testcase>`)."""

    FAILURE = "failure"  # non-compliant
    ERROR = "error"  # could not tell
    SKIPPED = "skipped"  # excepted by a waiver


#: Each verdict that is not a pass, and how a CI shows it.
OUTCOMES = {Verdict.NON_COMPLIANT: Outcome.FAILURE, Verdict.UNKNOWN: Outcome.ERROR, Verdict.EXCEPTED: Outcome.SKIPPED}


def text(value: object) -> str:
    """A value as XML may carry it: visible, every character XML 1.0 forbids as its escape."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(str(value)))


def classname(row: VoiceRow) -> str:
    return f"{SUITE}.{row.pool}" if row.pool and row.pool != Pool.UNKNOWN else SUITE


def case_name(row: VoiceRow) -> str:
    return f"{row.voice_id} {row.display_name}" if row.display_name else row.voice_id


def render_junit(record: RunRecord) -> str:
    """The run's voices as a JUnit XML document (one suite)."""
    rows = list(record.voices)
    outcomes = [_outcome(r) for r in rows]
    counts = {k: sum(o is k for o in outcomes) for k in Outcome}
    seconds = f"{max(0.0, (record.finished_at - record.started_at).total_seconds()):.3f}"
    stamp = record.started_at.isoformat(timespec="seconds")
    totals = {"tests": str(len(rows)), "failures": str(counts[Outcome.FAILURE]),
              "errors": str(counts[Outcome.ERROR]), "skipped": str(counts[Outcome.SKIPPED]), "time": seconds}
    root = ET.Element("testsuites", {"name": "clone-audit", **totals, "timestamp": stamp})
    suite = ET.SubElement(root, "testsuite", {"name": text(f"{SUITE} {record.run_id}"), **totals, "timestamp": stamp,
                                              "id": "0"})
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(record):
        ET.SubElement(properties, "property", {"name": name, "value": text(value)})
    for row, outcome in zip(rows, outcomes, strict=True):
        case = ET.SubElement(suite, "testcase", {"classname": text(classname(row)), "name": text(case_name(row)),
                                                 "time": "0"})
        if outcome is not None:
            _mark(ET.SubElement(case, outcome.value), row)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _outcome(row: VoiceRow) -> Outcome | None:
    try:
        return OUTCOMES.get(Verdict(row.verdict))
    except ValueError:  # a verdict this version does not know: not a pass either
        return Outcome.ERROR


def _mark(element: ET.Element, row: VoiceRow) -> None:
    if element.tag == Outcome.SKIPPED:
        owner, expires = row.exception_owner or "no owner named", row.exception_expires or "no date"
        element.set("message", text(f"waived by {owner} until {expires}: {row.reason or ''}".rstrip(": ")))
        return
    element.set("message", text(row.cause or row.verdict))
    element.set("type", text(row.verdict))
    element.text = "\n".join(text(line) for line in _details(row))


def _details(row: VoiceRow) -> Iterable[str]:
    yield row.reason or row.cause or row.verdict
    yield f"probe: {row.probe_verdict}" + (f" on {row.probe_model}" if row.probe_model else "") + (
        f" ({row.probe_reason})" if row.probe_reason else "")
    if row.evidence:
        yield f"evidence: {row.evidence}"


def _properties(record: RunRecord) -> Iterable[tuple[str, object]]:
    yield "run_id", record.run_id
    yield "kind", record.kind.value
    yield "base_url", record.base_url
    yield "account", record.account
    yield "exit_code", int(record.exit_code)
    yield "version", record.version
