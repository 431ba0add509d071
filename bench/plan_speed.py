"""Plan benchmark: the archive half of `plan` on a generated org, cold and warm, against baselines.

Generates an org (`audit.emulator.generate_org`, default 2,000 clones) and its archive
(`generate_archive`) in a temporary folder, then times, in this one run:
- read: open, read and sha256 every archived file (the floor: the bytes must be read);
- serial: `gather` (find, check, fit, write fitted copies) on one core with no check cache,
  the way plan worked before checks ran on both cores and were remembered;
- cold: `gather` as plan runs it (a process per core), with an empty check cache;
- warm: the same again, the cache filled by the cold run (every file unchanged).
Each figure is printed with its ratio to `read` and to `serial`. The verdicts of all three
`gather` runs are compared: they must be the same.

    python bench/plan_speed.py --clones 2000 [--archive FOLDER]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from audit.archive.cache import CheckCache
from audit.archive.gather import gather
from audit.core.config import ArchiveSettings
from audit.core.models import Clone, NoProgress
from audit.core.runfolder import RunFolder
from audit.emulator import generate_archive, generate_org


def read_all(folder: Path) -> int:
    """Bytes read while hashing every file under `folder`."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with open(Path(root) / name, "rb") as handle:
                total += len(hashlib.file_digest(handle, "sha256").digest()) and os.fstat(handle.fileno()).st_size
    return total


def timed_gather(clones: list[Clone], settings: ArchiveSettings, out: Path, run: str, **options: object) -> tuple[float, dict[str, str]]:
    folder = RunFolder.new(out, run).create()
    started = time.perf_counter()
    sourced = gather(clones, settings, folder, NoProgress(), **options)  # type: ignore[arg-type]
    took = time.perf_counter() - started
    return took, {k: f"{c.problem} {c.detail} {c.fit}" for k, c in sourced.checks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="processes for checks (default: one per core)")
    parser.add_argument("--archive", type=Path, help="generate the archive here, or reuse the one already here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        org = generate_org(args.clones, args.seed)
        archive = args.archive or root / "archive"
        if not (archive.is_dir() and any(archive.iterdir())):
            generate_archive(org, archive, args.seed)
        legacy = [Clone(voice_id=c.voice_id, display_name=str(c.fields.get("displayName", "")))
                  for c in org.clones if c.engine == "legacy"]
        print(f"{args.clones} clones, {len(legacy)} needing a recording; archive ready in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        settings = ArchiveSettings(folder=str(archive))
        started = time.perf_counter()
        size = read_all(archive)
        read = time.perf_counter() - started
        print(f"read      {read:6.2f} s  ({size / 1e6:.0f} MB hashed)")
        serial, before = timed_gather(legacy, settings, root / "out", "serial", workers=1, cache=None)
        print(f"serial    {serial:6.2f} s  ×{serial / read:.1f} read")
        (root / "state").mkdir(mode=0o700)
        cache = CheckCache.open(root / "state" / "checks.sqlite")
        cold, after_cold = timed_gather(legacy, settings, root / "out", "cold", workers=args.workers, cache=cache)
        print(f"cold      {cold:6.2f} s  ×{cold / read:.1f} read, {cold / serial:.2f} of serial")
        warm, after_warm = timed_gather(legacy, settings, root / "out", "warm", workers=args.workers, cache=cache)
        print(f"warm      {warm:6.2f} s  ×{warm / read:.1f} read, {warm / serial:.2f} of serial")
        same = before == after_cold == after_warm
        print(f"verdicts  {'the same in all three runs' if same else 'DIFFER'}")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
