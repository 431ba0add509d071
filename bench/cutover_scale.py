"""Scale benchmark: a cutover scan of many small files, against a read-only baseline.

Generates a tree of small text files (config, code, CSV; 1 % of them hold an old voice
id, some inside longer ids) and a mapping of `--ids` voices, then measures, in the same
run and on the same files (page cache warmed by a first read):
- the baseline: the same file listing, and reading every file's bytes, without matching;
- the cutover scan: listing, reading, binary check, the compiled matcher, occurrences.
It prints both as files per second and the scan as a multiple of the baseline, and checks
that the scan found exactly the planted occurrences. `--git` makes the tree a git work
tree first (the listing then comes from `git ls-files`).

    python bench/cutover_scale.py --files 100000 --ids 1000
"""

from __future__ import annotations

import argparse
import random
import string
import subprocess
import tempfile
import time
from pathlib import Path

from audit.cutover.mapping import MappingRow, VoiceMapping
from audit.cutover.scanner import scan_files
from audit.cutover.walk import list_files

MAX_BYTES = 5 * 1024 * 1024


def voice_ids(n: int, rng: random.Random) -> list[str]:
    alphabet = string.ascii_letters + string.digits
    return ["voice_" + "".join(rng.choices(alphabet, k=10)) for _ in range(n)]


def build_tree(root: Path, files: int, ids: list[str], rng: random.Random) -> int:
    """`files` small files in folders of 100; returns how many whole-token ids were planted."""
    planted = 0
    filler = "timeout: 30\nretries: 3\nlanguage: en\ngreeting: Hello, thanks for calling.\n"
    for index in range(files):
        folder = root / f"d{index // 100:04d}"
        if index % 100 == 0:
            folder.mkdir(parents=True)
        body = filler * rng.randint(1, 4)
        if index % 100 == 7:
            voice = rng.choice(ids)
            body += f"voice_id: {voice}\nother: {voice}X\n"  # the second is inside a longer id
            planted += 1
        (folder / f"f{index:06d}.{('yaml', 'py', 'csv', 'env')[index % 4]}").write_text(body)
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--git", action="store_true", help="make the tree a git work tree (git add)")
    args = parser.parse_args()
    rng = random.Random(7)
    ids = voice_ids(args.ids, rng)
    mapping = VoiceMapping(Path("mapping.csv"), tuple(
        MappingRow(old, new, "name", "ready", True, "") for old, new in zip(ids, voice_ids(args.ids, rng), strict=True)
    ))
    with tempfile.TemporaryDirectory(prefix="cutover-bench-") as tmp:
        root = Path(tmp) / "tree"
        started = time.perf_counter()
        planted = build_tree(root, args.files, ids, rng)
        if args.git:
            subprocess.run(["git", "init", "-q", str(root)], check=True)
            subprocess.run(["git", "-C", str(root), "add", "."], check=True)
        print(f"built {args.files} files ({planted} with an id) in {time.perf_counter() - started:.1f} s")

        def baseline() -> tuple[float, int]:
            began = time.perf_counter()
            listing = list_files([root], max_bytes=MAX_BYTES)
            total = 0
            for entry in listing.files:
                with open(entry.path, "rb") as handle:
                    total += len(handle.read())
            return time.perf_counter() - began, len(listing.files)

        baseline()  # warm the page cache for both measurements
        base_s, listed = min(baseline() for _ in range(2))

        def scan() -> tuple[float, int, int]:
            began = time.perf_counter()
            result = scan_files(list_files([root], max_bytes=MAX_BYTES), mapping)
            return time.perf_counter() - began, result.files_scanned, len(result.occurrences)

        scan_s, scanned, found = min(scan() for _ in range(2))
    assert listed == scanned == args.files, (listed, scanned)
    assert found == planted, f"found {found} occurrences, planted {planted}"
    print(f"baseline (list + read, no matching): {listed / base_s:,.0f} files/s ({base_s:.2f} s)")
    print(f"cutover scan ({args.ids} ids, one matcher): {scanned / scan_s:,.0f} files/s ({scan_s:.2f} s), "
          f"{found} occurrences")
    print(f"scan / baseline: {scan_s / base_s:.2f}x the time of reading the files")


if __name__ == "__main__":
    main()
