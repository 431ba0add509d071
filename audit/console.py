"""Terminal output: logging (with secrets redacted), the progress bar, the summary table.

Owns everything a person sees in the terminal, on stderr, so stdout stays free for
what a script might parse. The redacting filter sits on the handler, so no record from
any library (httpx, httpcore, stamina, uvicorn) can print a registered secret
(`audit.core.secrets`, where every Secret registers itself), and every message and error
is shown through `untrusted.visible`: a server string's ESC sequences, CR, C1 controls and
bidi overrides print as escapes (`\x1b[2J`), never as bytes a terminal would act on.
`terminal()` does the same for anything printed another way.

Colour: none when stderr is not a terminal, when `NO_COLOR` holds any non-empty value, or
with `--no-color` (`no_colour()`); `FORCE_COLOR` asks for it off a terminal too (rich reads
both variables). Off a terminal nothing is wrapped to a width: an error, a hint or a prompt
stays one line for a log or a script.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from audit.core.secrets import REGISTRY, Secret
from audit.core.untrusted import visible

stderr = Console(stderr=True, highlight=False)
stderr.soft_wrap = not stderr.is_terminal  # off a terminal, a line is never broken at a width


def no_colour() -> None:
    """--no-color: what stderr prints from now on has no colour (bold and the layout stay)."""
    stderr.no_color = True


def terminal(text: str, *, one_line: bool = False) -> str:
    """`text` as it may be shown: no registered secret, no control byte; newlines and tabs
    kept unless `one_line` (a voice id, a name: one entry must stay one line)."""
    return visible(REGISTRY.scrub(text), keep_lines=not one_line)


class RedactSecrets(logging.Filter):
    """The logging side of the secret registry: scrubs and defuses every record."""

    def add(self, secret: Secret | str) -> None:
        REGISTRY.add(secret.reveal() if isinstance(secret, Secret) else secret)

    def filter(self, record: logging.LogRecord) -> bool:
        # A %-argument (a voice id, a server message) is one value: its newlines are escaped, so
        # it cannot forge a log line; the message's own newlines are kept.
        if isinstance(record.args, Mapping):
            record.args = {k: _one_line(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_one_line(v) for v in record.args)
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def redact(self, text: str) -> str:
        return terminal(text)


def _one_line(value: object) -> object:
    return visible(value) if isinstance(value, str) else value


REDACTOR = RedactSecrets()


def configure_logging(verbosity: int) -> None:
    """0: warnings; 1 (-v): clone-audit's info; 2 (-vv): debug from every library. On a terminal
    rich's columns; off one, one plain line per record, never wrapped (`_LineHandler`)."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler: logging.Handler
    if stderr.is_terminal:
        handler = RichHandler(console=stderr, show_path=False, rich_tracebacks=False, markup=False)
    else:
        handler = _LineHandler()
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if verbosity >= 2 else logging.WARNING)
    logging.getLogger("audit").setLevel(level)
    # stamina warns on every scheduled retry: on a rate-limited account that is hundreds
    # of lines, so they show from -v on; the final failure still reaches the report.
    logging.getLogger("stamina").setLevel(logging.INFO if verbosity else logging.ERROR)


class _LineHandler(logging.Handler):
    """A record as one line on stderr (time, level, message), through the console so --quiet
    silences it as it silences the rest, and never wrapped: a log or a script reads it whole."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)-8s %(message)s", "%x %X"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stderr.out(self.format(record), highlight=False)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


class BarProgress:
    """The pipeline's Progress, drawn as a rich bar on stderr (hidden when not a terminal).

    Shows a spinner while the total is unknown (listing), then the bar with done/total, rate,
    ETA, live counts by outcome (`advance(outcome)`) and the pipeline's note (`watch`), such as
    "waiting on rate limits (2 at once)", "connection refused, retry 3/8" or "holding back 1
    cut-off create(s) until 12:04:31 UTC"; the ETA is never shorter than a wait `watch` names. It redraws twice a second: a faster refresh costs
    CPU on every probe for nothing a person can read.
    """

    REFRESH_PER_SECOND = 2

    def __init__(self) -> None:
        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            _Rate(), TimeElapsedColumn(), TextColumn("ETA"), _Eta(self), _Counts(self), _Note(self),
            console=stderr, transient=True, refresh_per_second=self.REFRESH_PER_SECOND,
        )
        self._task: Any = None
        self._status: Callable[[], str] | None = None
        self._at_least: Callable[[], float | None] | None = None
        self._counts: collections.Counter[str] = collections.Counter()
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
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total or None)
        self._counts.clear()
        self.done, self.total, self.description = 0, total, description

    def watch(self, status: Callable[[], str] | None, at_least: Callable[[], float | None] | None = None) -> None:
        self._status, self._at_least = status, at_least

    def eta_floor(self) -> float | None:
        """Seconds of a known wait (a held-back create) the ETA may not be shorter than."""
        return self._at_least() if self._at_least is not None else None

    def advance(self, outcome: str | None = None) -> None:
        """Count one item done: the rate and the counts are worked out when the bar is drawn."""
        self.done += 1
        if outcome:
            self._counts[outcome] += 1
        self._bar.advance(self._task)

    def counts(self) -> str:
        """The live counts by outcome: 'compliant 12 non-compliant 3'."""
        return " ".join(f"{k} {n}" for k, n in sorted(self._counts.items()))

    def note(self) -> str:
        return self._status() if self._status is not None else ""


class _Eta(TimeRemainingColumn):
    """rich's time remaining, but never shorter than a wait the pipeline knows of (a create held
    back until a set time), so a bar at 29/30 does not say 0:00:01 for minutes."""

    def __init__(self, bar: BarProgress) -> None:
        super().__init__()
        self._owner = bar

    def render(self, task: Task) -> Text:
        floor = self._owner.eta_floor()
        if floor is None or task.finished:
            return super().render(task)
        seconds = max(floor, task.time_remaining or 0.0)
        minutes, secs = divmod(int(seconds + 0.999), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours}:{minutes:02d}:{secs:02d}", style="progress.remaining")


class _Rate(ProgressColumn):
    """Items per second, over rich's recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:.1f}/s" if speed else "")


class _Counts(ProgressColumn):
    """The counts by outcome, as the bar is drawn."""

    def __init__(self, bar: BarProgress) -> None:
        super().__init__()
        self._owner = bar

    def render(self, task: Task) -> Text:
        return Text(self._owner.counts())


class _Note(ProgressColumn):
    """The pipeline's note, asked for at every redraw (so "waiting on rate limits" shows while
    nothing advances)."""

    def __init__(self, bar: BarProgress) -> None:
        super().__init__()
        self._owner = bar

    def render(self, task: Task) -> Text:
        note = self._owner.note()
        return Text(note, style="yellow" if note.startswith(("waiting", "holding")) or "retry" in note else "dim")


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
    """One error line and its hint; wrapped to the terminal's width only on a terminal, so a log
    or a script reading stderr gets each whole (a path is never split by an inserted line break)."""
    wrap = not stderr.is_terminal
    stderr.print(f"[bold red]error:[/] {escape(terminal(message))}", soft_wrap=wrap)
    if hint:
        stderr.print(f"[bold]hint:[/] {escape(terminal(hint))}", soft_wrap=wrap)


def print_note(message: str) -> None:
    """One line that is not an error (a cancelled confirmation), unwrapped off a terminal."""
    stderr.print(escape(terminal(message)), soft_wrap=not stderr.is_terminal)
