"""One compiled matcher for every old voice id, matching whole tokens only.

Owns `IdMatcher`: the ids are folded into a prefix tree and compiled once into a single
regular expression (so a file is searched once, whatever the number of ids, and a
shared prefix such as `voice_` lets the engine skip text fast), in two forms of the same
pattern: over bytes, a cheap first look that lets most files go without being decoded,
and over text, where positions are taken. A match counts only as a whole token: the
characters on either side must not be letters, digits, `_` or `-` (so `voice_abc` is
not found inside `voice_abcd`, `xvoice_abc` or `voice_abc-2`). An id right after the
marker prefix `migrated-from:` is a record of history on a new clone, not a caller, and
is left alone. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from audit.core.models import MARKER_PREFIX


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # character offset in the text
    end: int
    voice_id: str


class IdMatcher:
    def __init__(self, voice_ids: Iterable[str]) -> None:
        self.ids = frozenset(voice_ids)
        if not self.ids:
            raise ValueError("a matcher needs at least one id")
        # Only where a token starts (no letter, digit, `_` or `-` before): each token is tried
        # once, so the time is linear in the text however long the ids' common prefixes.
        source = r"(?<![\w-])" + _trie_pattern(sorted(self.ids))
        self._text = re.compile(source)
        self._bytes = re.compile(source.encode("ascii")) if source.isascii() else None  # ASCII \w: a superset

    def might_contain(self, data: bytes) -> bool:
        """A fast first look at raw UTF-8/ASCII bytes: False means no id is in them."""
        return self._bytes is None or self._bytes.search(data) is not None

    def find(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for match in self._text.finditer(text):
            start, end = match.span()
            if _is_token_char(text, start - 1) or _is_token_char(text, end):
                continue
            if text.startswith(MARKER_PREFIX, start - len(MARKER_PREFIX)) and start >= len(MARKER_PREFIX):
                continue
            spans.append(Span(start, end, match.group()))
        return spans


def _is_token_char(text: str, index: int) -> bool:
    if index < 0 or index >= len(text):
        return False
    char = text[index]
    return char.isalnum() or char in "_-"


def _trie_pattern(words: list[str]) -> str:
    """One alternation-free-at-the-top pattern for `words`, factored by common prefixes."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)
