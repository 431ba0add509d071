"""The run folder: its layout, the names of its files, how files get there, and locks.

Every command writes one folder under the output root (`--out`, default `reports/`),
named by its run id. This module is the one place that knows what a folder holds and
what each file is called; stages and writers ask it for paths instead of joining names:

    <out>/<run id>/
        run.json  clones.csv  report.html       every scan and plan
        plan.json  plan.seal  plan.csv  fitted/  a plan (its seal, fitted copies of recordings)
        ledger.sqlite  mapping.csv  mapping.json an applied plan
        listen/<voice>-source.wav  -clone.wav    listening clips of flagged (and sampled) voices
        cutover.json  cutover/                   a cutover of callers (its record; rollback files)
        .clone-audit-run                         the marker of the tool's own folders (`runmarker`)

No path is built from server data: a fitted copy is named by `untrusted.file_stem` of the
voice id (a sanitised prefix plus a hash), and every write through a RunFolder is refused
(`PathEscape`) when its resolved target lies outside the folder, as a second line of
defence. Every text file is scrubbed of registered secrets and URL query strings
(`audit.core.secrets`) on its way to the disk.

How files get there:
- A scan's or a plan's report set is written as a whole: into `<out>/.<run id>.partial/`
  (`staged`), which is renamed to `<out>/<run id>/` once every file is in. An interrupted
  run leaves no `<run id>` folder at all. The staging folder holds an advisory lock for
  as long as its run lives; the next run removes a staging folder whose lock is free
  (its process died, even by SIGKILL) and that is older than STALE_GRACE_S (the moment
  between creating a folder and locking it). Only names of the form `.<run id>.partial`
  are ever removed.
- Later additions to a folder (ledger, mapping, re-rendered report) are atomic per file:
  a unique temporary name in the same folder, fsync, rename, fsync of the folder.
- `check_writable(out)` is called before any paid work, so an output folder that cannot
  be written fails at once (exit 2) instead of after the probes.

The advisory lock that keeps two runs from working on one plan at once lives in `locks`.
What must be unique per account or per user (the account lock, the plan-sealing key)
lives outside any run folder, in `audit.core.userstate`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from audit.core import runmarker
from audit.core.errors import UsageError
from audit.core.secrets import scrub
from audit.core.untrusted import file_stem, json_visible

RUN_JSON = "run.json"
CLONES_CSV = "clones.csv"
REPORT_HTML = "report.html"
PLAN_JSON = "plan.json"
PLAN_SEAL = "plan.seal"
PLAN_CSV = "plan.csv"
FITTED_DIR = "fitted"
LISTEN_DIR = "listen"  # short 16 kHz clips of sources and new clones, linked from report.html
LEDGER = "ledger.sqlite"
MAPPING_CSV = "mapping.csv"
MAPPING_JSON = "mapping.json"
CUTOVER_JSON = "cutover.json"
CUTOVER_DIR = "cutover"
DASHBOARD_TXT = "delete-in-dashboard.txt"  # a retire's ids the API would not delete, one per line

#: A staging folder whose lock is free is left alone this long (it may be just being made).
STALE_GRACE_S = 10.0
_STAGING = re.compile(r"\.(\d{8}T\d{6}Z-[0-9a-f]{4})\.partial")
_STAGING_LOCK = ".lock"
_WRITABLE_HINT = "Choose an output folder you can write to (--out, or [report] out_dir)."


class PathEscape(UsageError):
    """A write whose target resolves outside its run folder (refused)."""


def new_run_id(now: datetime) -> str:
    """A sortable, unique folder name: UTC time to the second plus 4 random hex digits."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunFolder:
    """One run's folder. Creating the object touches nothing; `create` makes the folder.

    `home` is set on a staged folder: files are written under `path` (the staging folder)
    and will live under `home` once it is published; `published` maps one to the other.
    """

    path: Path
    home: Path | None = None

    @classmethod
    def new(cls, out_root: Path, run_id: str) -> RunFolder:
        return cls(out_root / run_id)

    @classmethod
    def of_plan(cls, plan_path: Path) -> RunFolder:
        """The folder a plan file lives in: its ledger, mapping and report sit beside it."""
        return cls(plan_path.parent)

    @property
    def out_root(self) -> Path:
        return (self.home or self.path).parent

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def clones_csv(self) -> Path:
        return self.path / CLONES_CSV

    @property
    def report_html(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def plan_json(self) -> Path:
        return self.path / PLAN_JSON

    @property
    def plan_seal(self) -> Path:
        """The MAC that binds plan.json to the key of the user who made it."""
        return self.path / PLAN_SEAL

    @property
    def plan_csv(self) -> Path:
        return self.path / PLAN_CSV

    @property
    def ledger(self) -> Path:
        return self.path / LEDGER

    @property
    def mapping_csv(self) -> Path:
        return self.path / MAPPING_CSV

    @property
    def mapping_json(self) -> Path:
        return self.path / MAPPING_JSON

    @property
    def cutover_json(self) -> Path:
        return self.path / CUTOVER_JSON

    @property
    def dashboard_txt(self) -> Path:
        return self.path / DASHBOARD_TXT

    @property
    def cutover_dir(self) -> Path:
        """Where `cutover --write` keeps its rollback files."""
        return self.path / CUTOVER_DIR

    @property
    def fitted(self) -> Path:
        return self.path / FITTED_DIR

    def fitted_file(self, voice_id: str) -> Path:
        """Where the fitted copy of `voice_id`'s recording goes: named by a safe derivative
        of the id, never by the id itself."""
        return self.confine(self.fitted / f"{file_stem(voice_id)}.wav")

    @property
    def listen(self) -> Path:
        return self.path / LISTEN_DIR

    def listen_clip(self, voice_id: str, which: str) -> Path:
        """Where a listening clip of `voice_id` goes (`which`: "source" or "clone"), named by a
        safe derivative of the id; report.html links it relatively."""
        if which not in ("source", "clone"):
            raise ValueError(f"a listening clip is of the source or the clone, not {which!r}")
        return self.confine(self.listen / f"{file_stem(voice_id)}-{which}.wav")

    def published(self, inside: Path) -> Path:
        """Where a file written at `inside` will be once the folder is published."""
        return inside if self.home is None else self.home / inside.relative_to(self.path)

    def confine(self, target: Path) -> Path:
        """`target`, or PathEscape when it resolves outside this folder."""
        root = self.path.resolve()
        resolved = target.resolve()
        if resolved != root and not resolved.is_relative_to(root):
            raise PathEscape(
                f"refused to write {resolved}: it lies outside the run folder {root}.",
                hint="This is a bug or a hostile name; nothing outside the run folder was written.",
            )
        return target

    def write_text(self, target: Path, text: str) -> None:
        write_text(self._prepare(target), text)

    def write_bytes(self, target: Path, data: bytes) -> None:
        write_bytes(self._prepare(target), data)

    def write_chunks(self, target: Path, chunks: Iterable[str]) -> None:
        write_chunks(self._prepare(target), chunks)

    def _prepare(self, target: Path) -> Path:
        self.confine(target)
        ensure_folder(target.parent)
        return target

    def is_plan(self) -> bool:
        return self.plan_json.exists()

    def create(self) -> RunFolder:
        ensure_folder(self.path)
        runmarker.mark(self.path, self.path.name)
        return self


def ensure_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {folder}: {exc.strerror}", hint=_WRITABLE_HINT) from None
    return folder


def check_writable(out_root: Path) -> Path:
    """Make sure files can be written under `out_root` (creating it); UsageError if not.
    Called before any paid work, so a read-only --out costs nothing."""
    ensure_folder(out_root)
    try:
        with tempfile.NamedTemporaryFile(dir=out_root, prefix=".clone-audit-write-check-"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write into the output folder {out_root}: {exc.strerror}",
                         hint=_WRITABLE_HINT) from None
    return out_root


def write_text(path: Path, text: str) -> None:
    """Write `text` as UTF-8 so that a reader sees the old file or the whole new one.

    Registered secrets and URL query strings are scrubbed out first. In a .json file,
    invisible characters (bidi and C1 controls, lone surrogates) are written as `\\u`
    escapes (`untrusted.json_visible`); elsewhere a lone surrogate becomes its `\\udxxx`
    escape instead of failing the run."""
    write_chunks(path, (text,))


def write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """`write_text` for a text made piece by piece, without ever holding all of it: each piece
    is scrubbed (and, in a .json file, escaped) on its own, so no piece may split a secret
    (a JSON row, a CSV line)."""
    escape = json_visible if path.suffix == ".json" else None
    _replace(path, ((escape(text) if escape else text).encode("utf-8", "backslashreplace")
                    for text in map(scrub, _coalesced(chunks))))


def _coalesced(chunks: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    """Adjacent chunks joined into pieces of about `size` characters (a template streams many
    tiny ones); a piece boundary is always a chunk boundary."""
    pending: list[str] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield "".join(pending)
            pending, held = [], 0
    if pending:
        yield "".join(pending)


def write_bytes(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write `data` (or its pieces, never all held at once) so that a reader sees the old file or the whole new one."""
    _replace(path, (data,) if isinstance(data, bytes) else data)


def _replace(path: Path, pieces: Iterable[bytes]) -> None:
    """A private temporary file beside `path`, written, synced, then renamed over it."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with open(handle, "wb") as out:
            for piece in pieces:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def staged(out_root: Path, run_id: str) -> Iterator[RunFolder]:
    """A folder to write a run's whole report set into, published as `<out>/<run id>`
    only when the block ends without an error (see the module docstring)."""
    final = out_root / run_id
    staging = out_root / f".{run_id}.partial"
    ensure_folder(out_root)
    clean_stale_staging(out_root)
    if final.exists():
        raise UsageError(f"{final} exists already.", hint="Run the command again (a new run id is drawn).")
    ensure_folder(staging)
    runmarker.mark(staging, run_id)
    lock = open(staging / _STAGING_LOCK, "ab")  # noqa: SIM115 - held for the life of the staging
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield RunFolder(staging, home=final)
        (staging / _STAGING_LOCK).unlink()
        os.rename(staging, final)
        _fsync_folder(out_root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        lock.close()


def clean_stale_staging(out_root: Path, grace_s: float = STALE_GRACE_S) -> list[Path]:
    """Remove staging folders of runs that died (lock free, older than `grace_s`)."""
    removed = []
    for candidate in out_root.glob(".*.partial"):
        if not _STAGING.fullmatch(candidate.name) or candidate.is_symlink() or not candidate.is_dir():
            continue
        try:
            if time.time() - candidate.stat().st_mtime < grace_s or _staging_in_use(candidate):
                continue
        except OSError:
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
    return removed


def _staging_in_use(staging: Path) -> bool:
    try:
        handle = open(staging / _STAGING_LOCK, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
