"""Terminal output: logging (with secrets redacted), the progress bar, the summary table.

Owns everything a person sees in the terminal, on stderr, so stdout stays free for
what a script might parse. The redacting filter sits on the handler, so no record from
any library (httpx, httpcore, stamina, uvicorn) can print a registered secret
(`audit.core.secrets`, where every Secret registers itself), and every message and error
is shown through `untrusted.visible`: a server string's ESC sequences, CR, C1 controls and
bidi overrides print as escapes (`\x1b[2J`), never as bytes a terminal would act on.
`terminal()` does the same for anything printed another way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audit.core.config import Secret
from audit.core.secrets import REGISTRY
from audit.core.untrusted import visible

stderr = Console(stderr=True, highlight=False)


def terminal(text: str, *, one_line: bool = False) -> str:
    """`text` as it may be shown: no registered secret, no control byte; newlines and tabs
    kept unless `one_line` (a voice id, a name: one entry must stay one line)."""
    return visible(REGISTRY.scrub(text), keep_lines=not one_line)


class RedactSecrets(logging.Filter):
    """The logging side of the secret registry: scrubs and defuses every record."""

    def add(self, secret: Secret | str) -> None:
        REGISTRY.add(secret.reveal() if isinstance(secret, Secret) else secret)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def redact(self, text: str) -> str:
        return terminal(text)


REDACTOR = RedactSecrets()


def configure_logging(verbosity: int) -> None:
    """0: warnings; 1 (-v): clone-audit's info; 2 (-vv): debug from every library."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = RichHandler(console=stderr, show_path=False, rich_tracebacks=False, markup=False)
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if verbosity >= 2 else logging.WARNING)
    logging.getLogger("audit").setLevel(level)
    # stamina warns on every scheduled retry: on a rate-limited account that is hundreds
    # of lines, so they show from -v on; the final failure still reaches the report.
    logging.getLogger("stamina").setLevel(logging.INFO if verbosity else logging.ERROR)


class BarProgress:
    """The pipeline's Progress, drawn as a rich bar on stderr (hidden when not a terminal)."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=stderr, transient=True,
        )
        self._task: Any = None
        self.done = 0
        self.total = 0
        self.description = ""

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.stop()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop drawing while the user types (a live bar would overwrite the prompt)."""
        self._bar.stop()
        try:
            yield
        finally:
            self._bar.start()

    def start(self, total: int, description: str) -> None:
        self._task = self._bar.add_task(description, total=total)
        self.done, self.total, self.description = 0, total, description

    def advance(self) -> None:
        self.done += 1
        self._bar.advance(self._task)


def print_summary(summary: Mapping[str, Any], title: str) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("verdict")
    table.add_column("voices", justify="right")
    for verdict, count in summary["verdict"].items():
        if count:
            table.add_row(verdict, str(count))
    table.add_row("total", str(summary["total"]), style="bold")
    stderr.print(table)


def print_error(message: str, hint: str) -> None:
    stderr.print(f"[bold red]error:[/] {escape(terminal(message))}")
    if hint:
        stderr.print(f"[bold]hint:[/] {escape(terminal(hint))}")
