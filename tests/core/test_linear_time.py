"""Every regular expression applied to server or file text runs in time linear in it: a
megabyte of any shape (long runs of each character the patterns treat specially, and the
repeated fragments that make a backtracking pattern retry) is handled in well under a second.
A user would feel a quadratic pattern as a scan that hangs on one hostile error body."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from audit.archive.names import _RUNS, normalise_name
from audit.compliance.waivers import _TABLE_HEADER
from audit.core import secrets
from audit.core.untrusted import file_stem, is_plain_id, json_visible, shown, visible
from audit.cutover.mapping import VOICE_ID
from audit.cutover.matcher import IdMatcher
from audit.cutover.patch import _LINE
from audit.cutover.scanner import _placed
from audit.report.unchecked import _probe_cause

MB = 1_000_000
BOUND_S = 1.0  # generous: each of these takes a few hundredths of a second
# The characters the patterns treat specially (delimiters, query and path marks, path starts,
# id characters, controls), and fragments that a backtracking pattern would retry at every offset.
SPECIAL = ["/", "?", "=", "#", "(", "[", ",", ";", " ", "\n", '"', "<", "&", "%", ":", ".", "-", "_", "a", "1",
           "\x1b", "\u202e", "\ud800"]
FRAGMENTS = ["http://", "https://a", "http://a?", "(/", "(/?", "(/?=", "a/b?(", "a?b=(", "/?a ", "a /?x=1 ",
             "x/", "?[query removed]", "voice_", "migrated-from:", "HTTP 1", "1.", "a\n", "a_-", " \t[[ ", "[[exception"]
SHAPES = {repr(s): s * MB for s in SPECIAL} | {repr(f): f * (MB // len(f)) for f in FRAGMENTS}


def _within_bound(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


@pytest.fixture(scope="module", autouse=True)
def _a_registered_key() -> None:
    secrets.register("sk_live_LiNeAr0123456789abcdef/+=")  # scrubbing also looks for a key's every form


MATCHER = IdMatcher(["a" * 199 + "b", "voice_" + "a" * 40, "1" * 150 + "x", "voice_" + "_" * 50 + "z"])
FUNCTIONS: dict[str, Callable[[str], object]] = {
    "secrets.scrub": secrets.scrub,
    "secrets.cut": lambda text: secrets.cut(text, 500),
    "untrusted.visible": visible,
    "untrusted.visible(keep_lines)": lambda text: visible(text, keep_lines=True),
    "untrusted.json_visible": json_visible,
    "untrusted.shown": shown,
    "untrusted.file_stem": file_stem,
    "untrusted.is_plain_id": is_plain_id,
    "cutover VOICE_ID": VOICE_ID.fullmatch,
    "cutover IdMatcher.find": MATCHER.find,
    "cutover IdMatcher.might_contain": lambda text: MATCHER.might_contain(text.encode("utf-8", "surrogatepass")),
    "cutover occurrence places": lambda text: list(_placed(text, MATCHER.find(text))),
    "cutover patch lines": _LINE.findall,
    "archive normalise_name": normalise_name,
    "archive name runs": _RUNS.findall,
    "report error grouping": lambda text: _probe_cause(text, None),
    "exceptions file table lines": lambda text: [_TABLE_HEADER.match(line) for line in text.splitlines()],
}


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_a_megabyte_of_any_shape_is_handled_in_under_a_second(function: str) -> None:
    slow = {shape: round(spent, 2) for shape, text in SHAPES.items()
            if (spent := _within_bound(lambda text=text: FUNCTIONS[function](text))) >= BOUND_S}
    assert slow == {}, f"{function} took over {BOUND_S} s on: {slow}"


def test_the_linear_scrubber_still_removes_what_it_removed() -> None:
    text = "GET https://h/x?sig=abc#top then /tts?auth=k1 and (v1/x?token=k2, and/or? x ?q=1 a/b?=c (/?a/b?t=3"
    assert secrets.scrub(text) == ("GET https://h/x?[query removed]#top then /tts?[query removed] and "
                                   "(v1/x?[query removed] and/or? x ?q=1 a/b?=c (/?[query removed]")
