"""Secrets: the `Secret` that holds one, the registry of them, and scrubbing them out of every
string that leaves the process.

A `Secret` (the API key) never shows itself in logs, reprs or tracebacks. This module owns
the one place a secret is known to be a secret: every `Secret` registers its value here
when it is made, and every writer scrubs text through `scrub` before it reaches a file or
the terminal: `runfolder.write_text` for every report file, the ledger for its detail
text, the console's logging filter and error printer. A server
error body may echo the Authorization header, so any text derived from an API answer can
carry the key; scrubbing at the writers covers them all without tracing each string.

`scrub` replaces each registered value (and the forms JSON, HTML, CSV and URL escaping and
base64 give it, "Bearer " + value included) with `****`, and drops the query string of every
http(s) URL (a signed URL such as a clone sample's `audioUrl` carries its credential there)
and of every path-like token whose query holds `key=value` (`/tts?auth=…`). Text is scrubbed
whole before it is cut (`cut`): a key split by a length limit would not be recognised, so a
cut that still ends in the start of a secret loses that start too. Values shorter than
MIN_SECRET_CHARS are not registered: redacting them would shred ordinary text, and no key
is that short.

Stores go through the same gate: a SQLite store opens its file with `ScrubbedConnection`,
which scrubs every text parameter of every statement, so no value reaches the file (or is
looked up) unscrubbed. A value that scrubbing would change is one the store must not act
on later (a voice id holding the key would name another voice once masked): `holds_secret`
tells a store to refuse such a value rather than keep a masked copy of it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

MIN_SECRET_CHARS = 6
MASK = "****"
# Each pattern runs in time linear in the text, whatever its shape (a hostile error body can
# be megabytes of `/`, `(`, `?` or `http://`): every quantifier is possessive over a class
# that excludes what follows it, and a match takes all it scanned, replacing or not.
# An http(s) URL up to its query (group 1) and the query itself (group 2, when there is one).
# A query stops at a backslash too: scrubbing runs on finished JSON text, where a `\` starts an
# escape (`\"`, `\\`, `\u…`) that a removed query must never cut in two (the file would no longer
# be JSON); a query holding a backslash loses its part before it.
_URL = re.compile(r"(\bhttps?://[^\s?#\"'<>]++)(\?[^\s#\"'<>\\]*+)?", re.IGNORECASE)
# A path (a token holding a `/`) followed by a query with at least one `name=value`:
# `/tts?auth=…`, `v1/x?token=…`; a question in prose ("and/or? x") has no `=` after it. A path
# starts after a delimiter, or (in a token that began after a `?` or `#`) after its first
# `([,;=` (group `pre`). The query is taken whole even without an `=` (then nothing is
# replaced): no path that starts inside it could have one either.
_PATH = re.compile(r"(?P<pre>(?<![^\s\"'<>])|(?<=[?#])[^\s?#\"'<>(\[,;=]*+[(\[,;=])"
                   r"(?P<path>[^\s?#\"'<>/]*+/[^\s?#\"'<>]*+)"
                   r"\?(?!\[query removed\])[^\s#\"'<>=\\]++(?P<eq>=)?[^\s#\"'<>\\]*+")
REMOVED = "?[query removed]"
_PERCENT = re.compile(r"%[0-9A-F]{2}")
MIN_CUT_PREFIX = 8  # a cut ending in this many characters of a secret loses them
MIN_BASE64_CHARS = 16  # shorter values get no base64 forms: their few characters would shred text


def _encoded_forms(value: str) -> set[str]:
    """The forms `value` takes when URL-encoded or base64-encoded inside a longer text."""
    forms = {urllib.parse.quote(value, safe=""), urllib.parse.quote(value), urllib.parse.quote_plus(value)}
    forms |= {_PERCENT.sub(lambda m: m.group().lower(), f) for f in forms}
    if len(value) >= MIN_BASE64_CHARS:
        # base64 of a text holding `value` at any offset ("Bearer " + value, "user:" + value):
        # the characters encoding only `value`'s bytes, for each of the three alignments.
        raw = value.encode("utf-8", "surrogatepass")
        for offset, skip in ((0, 0), (1, 2), (2, 3)):
            padded = b"\0" * offset + raw
            whole = len(padded) // 3 * 3
            core = base64.b64encode(padded[:whole]).decode()[skip:]
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return forms


class SecretRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        if len(value) < MIN_SECRET_CHARS:
            return
        markup = html.escape(value, quote=False)  # Jinja's autoescape writes quotes as &#34; &#39;
        forms = {value, json.dumps(value)[1:-1], html.escape(value), markup, value.replace('"', '""'),
                 markup.replace('"', "&#34;").replace("'", "&#39;")}
        forms |= _encoded_forms(value)
        with self._lock:
            # Longest first, so a form that contains another is replaced whole.
            self._forms = tuple(sorted(set(self._forms) | forms, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def scrub(self, text: str) -> str:
        """`text` without any registered secret or URL query string."""
        text = _URL.sub(_url_without_query, self.redact(text))
        return _PATH.sub(_path_without_query, text)

    def cut(self, text: str, limit: int) -> str:
        """`text` scrubbed, then cut to at most `limit` characters; a cut that ends in the
        first MIN_CUT_PREFIX or more characters of a secret ends in MASK instead."""
        text = self.scrub(text)
        if len(text) <= limit:
            return text
        text = text[:limit]
        for form in self._forms:
            for size in range(min(len(form) - 1, len(text)), MIN_CUT_PREFIX - 1, -1):
                if text.endswith(form[:size]):
                    return text[:-size] + MASK
        return text


def _url_without_query(match: re.Match[str]) -> str:
    return match[0] if match[2] is None else match[1] + REMOVED


def _path_without_query(match: re.Match[str]) -> str:
    return match[0] if match["eq"] is None else match["pre"] + match["path"] + REMOVED


REGISTRY = SecretRegistry()


def register(value: str) -> None:
    REGISTRY.add(value)


def scrub(text: str) -> str:
    return REGISTRY.scrub(text)


def scrub_values(value: Any) -> Any:
    """`value` (a JSON-able document) with every string in it scrubbed, keys included: for a
    writer that knows it writes JSON, so a secret or query is removed before escaping."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub_values(k): scrub_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_values(v) for v in value]
    return value


def cut(text: str, limit: int) -> str:
    """`text` scrubbed, then cut to `limit` characters without leaving a secret's start."""
    return REGISTRY.cut(text, limit)


class Secret:
    """A credential that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)  # every writer scrubs registered values out of what it writes

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """16 hex digits of a domain-separated sha256 of the key: names the account in run
        history without storing the key (nothing can be recovered from it)."""
        return hashlib.sha256(b"clone-audit account\0" + self._value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def holds_secret(text: str) -> bool:
    """Whether scrubbing would change `text` (a registered secret, or a URL's query, is in it)."""
    return scrub(text) != text


def _scrubbed(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {k: scrub(v) if isinstance(v, str) else v for k, v in parameters.items()}
    return tuple(scrub(v) if isinstance(v, str) else v for v in parameters)


class ScrubbedConnection(sqlite3.Connection):
    """A SQLite connection that scrubs every text parameter before SQLite sees it: the one
    gate between a store and its file (`sqlite3.connect(path, factory=ScrubbedConnection)`).
    Statements take their values as parameters; SQL text holds only names the code wrote."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _scrubbed(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return super().executemany(sql, (_scrubbed(row) for row in parameters))
