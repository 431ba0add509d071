"""Property tests: parsers and renderers hold for any input, not just the examples."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import httpx
from hypothesis import given
from hypothesis import strategies as st

from audit.api.failures import retry_after
from audit.api.wire import parse_clone, parse_clone_list
from audit.core.models import Clone, ProbeResult, ProbeVerdict, marked_origin, marker_tag
from audit.core.untrusted import visible
from audit.report.tables import render_csv, voice_frame
from audit.scan.rules import classify, decide

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(["displayName", "modelIds", "status", "language", "tags", "createdAt", "_id", "accent"])


@given(st.dictionaries(fields, json_values), st.text(min_size=1).filter(str.strip))
def test_any_list_entry_with_a_voice_id_parses(entry: dict, voice_id: str) -> None:
    clone = parse_clone({**entry, "voiceId": voice_id})
    assert clone.voice_id == voice_id
    decide(clone, classify(clone), ProbeResult(ProbeVerdict.NOT_PROBED))  # and never crashes a verdict


@given(st.dictionaries(fields, json_values), st.one_of(st.none(), st.integers(), st.text().filter(lambda s: not s.strip())))
def test_an_entry_without_a_usable_voice_id_is_kept_as_a_placeholder(entry: dict, voice_id: object) -> None:
    (clone,) = parse_clone_list([{**entry, "voiceId": voice_id}])
    assert clone.voice_id == "<unparseable entry 0>" and clone.unreadable


@given(st.text(min_size=1).filter(lambda s: "," not in s))
def test_a_marker_tag_gives_back_its_voice_id(voice_id: str) -> None:
    assert marked_origin(Clone(voice_id="voice_new", tags=("support", marker_tag(voice_id)))) == voice_id


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_any_display_name_survives_the_csv(names: list[str]) -> None:
    results = []
    for i, name in enumerate(names):
        clone = Clone(voice_id=f"voice_{i:010d}", display_name=name)
        results.append(decide(clone, classify(clone), ProbeResult(ProbeVerdict.NOT_PROBED)))
    text = render_csv(voice_frame(results, datetime(2026, 1, 1, tzinfo=UTC)))
    rows = {r["voice_id"]: r["display_name"] for r in csv.DictReader(io.StringIO(text, newline=""))}
    for i, name in enumerate(names):
        # A name a spreadsheet would run as a formula gets a leading quote; control and bidi
        # characters (but newline and tab) are shown as escapes; all else is kept as is.
        expected = "'" + name if name.startswith(("=", "+", "-", "@", "\t", "\r")) else name
        assert rows[f"voice_{i:010d}"] == visible(expected, keep_lines=True)
        assert not CONTROL.search(rows[f"voice_{i:010d}"])


@given(st.one_of(st.text(), st.integers(-5, 10_000).map(str), st.floats(0, 1e6, allow_nan=False).map(str)))
def test_retry_after_is_never_negative_and_never_raises(value: str) -> None:
    try:
        headers = httpx.Headers({"Retry-After": value})
    except (UnicodeEncodeError, ValueError):
        return  # not a value a header can carry
    wait = retry_after(headers)
    assert wait is None or wait >= 0
