"""The run folder: its layout, the names of its files, atomic writes, and locks.

Every command writes one folder under the output root (`--out`, default `reports/`),
named by its run id. This module is the one place that knows what a folder holds and
what each file is called; stages and writers ask it for paths instead of joining names:

    <out>/<run id>/
        run.json  clones.csv  report.html       every scan and plan
        plan.json  plan.seal  plan.csv  fitted/  a plan (its seal, fitted copies of recordings)
        ledger.sqlite  mapping.csv  mapping.json an applied plan

It also owns how files get there (a temporary name in the same folder, fsync, rename:
a crash never leaves half a file where a reader looks) and the advisory lock that keeps
two runs from working on one plan at once. What must be unique per account or per user
(the account lock, the plan-sealing key) lives outside any run folder, in
`audit.core.userstate`.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from audit.core.errors import UsageError

RUN_JSON = "run.json"
CLONES_CSV = "clones.csv"
REPORT_HTML = "report.html"
PLAN_JSON = "plan.json"
PLAN_SEAL = "plan.seal"
PLAN_CSV = "plan.csv"
FITTED_DIR = "fitted"
LEDGER = "ledger.sqlite"
MAPPING_CSV = "mapping.csv"
MAPPING_JSON = "mapping.json"


def new_run_id(now: datetime) -> str:
    """A sortable, unique folder name: UTC time to the second plus 4 random hex digits."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunFolder:
    """One run's folder. Creating the object touches nothing; `create` makes the folder."""

    path: Path

    @classmethod
    def new(cls, out_root: Path, run_id: str) -> RunFolder:
        return cls(out_root / run_id)

    @classmethod
    def of_plan(cls, plan_path: Path) -> RunFolder:
        """The folder a plan file lives in: its ledger, mapping and report sit beside it."""
        return cls(plan_path.parent)

    @property
    def out_root(self) -> Path:
        return self.path.parent

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
    def fitted(self) -> Path:
        return self.path / FITTED_DIR

    def fitted_file(self, voice_id: str) -> Path:
        """Where the fitted copy of `voice_id`'s recording goes."""
        return self.fitted / f"{voice_id}.wav"

    def is_plan(self) -> bool:
        return self.plan_json.exists()

    def create(self) -> RunFolder:
        ensure_folder(self.path)
        return self


def ensure_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the folder {folder}: {exc.strerror}",
            hint="Choose an output folder you can write to (--out).",
        ) from None
    return folder


def write_text(path: Path, text: str) -> None:
    """Write `text` as UTF-8 so that a reader sees the old file or the whole new one."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def exclusive_lock(path: Path, busy: str | None = None) -> IO[bytes]:
    """Hold an exclusive advisory lock on `path` until the returned handle is closed.
    The OS drops it when the process dies, even by SIGKILL. `busy`: the message when
    another process holds it."""
    handle = open(path, "ab")  # noqa: SIM115 - held open for as long as the lock is
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UsageError(
            busy or f"another clone-audit apply is working on {path.parent} right now.",
            hint="Wait for it to finish; two applies at once could create a clone twice.",
        ) from None
    return handle


def latest_scan(out_root: Path, base_url: str, max_age: timedelta) -> Path | None:
    """The newest scan folder under `out_root` for this account, if one is recent enough."""
    newest: tuple[datetime, Path] | None = None
    for run_json in out_root.glob(f"*/{RUN_JSON}"):
        folder = RunFolder(run_json.parent)
        if folder.is_plan():
            continue  # a plan's own folder: its verdicts came from an earlier scan
        try:
            meta = json.loads(run_json.read_text(encoding="utf-8"))
            finished = datetime.fromisoformat(meta["finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        same = str(meta.get("base_url", "")).rstrip("/") == base_url.rstrip("/")
        if same and datetime.now(UTC) - finished <= max_age and (newest is None or finished > newest[0]):
            newest = (finished, folder.path)
    return newest[1] if newest else None
