"""The registry of secrets, and scrubbing them out of every string that leaves the process.

Owns the one place a secret is known to be a secret: every `Secret` registers its value
here when it is made (audit.core.config), and every writer scrubs text through `scrub`
before it reaches a file or the terminal: `runfolder.write_text` for every report file,
the ledger for its detail text, the console's logging filter and error printer. A server
error body may echo the Authorization header, so any text derived from an API answer can
carry the key; scrubbing at the writers covers them all without tracing each string.

`scrub` replaces each registered value (and the forms JSON, HTML and CSV escaping give it)
with `****`, and drops the query string of every http(s) URL (a signed URL such as a
clone sample's `audioUrl` carries its credential there). Values shorter than
MIN_SECRET_CHARS are not registered: redacting them would shred ordinary text, and no key
is that short.
"""

from __future__ import annotations

import html
import json
import re
import threading

MIN_SECRET_CHARS = 6
MASK = "****"
_URL_QUERY = re.compile(r"(\bhttps?://[^\s?#\"'<>]+)\?[^\s#\"'<>]*", re.IGNORECASE)


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
        return _URL_QUERY.sub(r"\1?[query removed]", self.redact(text))


REGISTRY = SecretRegistry()


def register(value: str) -> None:
    REGISTRY.add(value)


def scrub(text: str) -> str:
    return REGISTRY.scrub(text)
