"""Scale benchmark: a cutover scan of many small files, against a read-only baseline.

Generates a tree of small text files (config, code, CSV; 1 % of them hold an old voice
id, some inside longer ids) and a mapping of `--ids` voices, then measures, in the same
run and on the same files (page cache warmed by a first read):
- the baseline: the same file listing, and reading every file's bytes, without matching;
- the cutover scan: listing, reading, binary check, the compiled matcher, occurrences.
It prints both as files per second and the scan as a multiple of the baseline, and checks
that the scan found exactly the planted occurrences. `--git` makes the tree a git work
tree first (the listing then comes from `git ls-files`). `--nested` spreads the files over a
deep tree of folders instead (each file in a folder of its own, two levels down, with empty
folders beside: 50,000 files in 107,000 folders by default), and adds the shell's baseline
measured in the same run: `find TREE -type f -print0 | xargs -0 cat > /dev/null`, with the
cutover (listing and scan) as a multiple of it.

    python bench/cutover_scale.py --files 100000 --ids 1000
    python bench/cutover_scale.py --nested --files 50000 --ids 1000 [--git]
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


EMPTY_PER_GROUP = 13  # empty folders beside each group of 100: 50,000 files make 107,000 folders


def build_nested(root: Path, files: int, ids: list[str], rng: random.Random) -> tuple[int, int]:
    """`files` small files, each in `dNNN/mNN/src/` (a folder of its own, two levels below a
    group of 100), and EMPTY_PER_GROUP empty folders in each group; returns how many ids were
    planted and how many folders were made."""
    planted, folders = 0, 0
    filler = "timeout: 30\nretries: 3\nlanguage: en\ngreeting: Hello, thanks for calling.\n"
    for index in range(files):
        group = root / f"d{index // 100:04d}"
        if index % 100 == 0:
            for empty in range(EMPTY_PER_GROUP):
                (group / f"empty{empty:02d}").mkdir(parents=True)
            folders += 1 + EMPTY_PER_GROUP
        folder = group / f"m{index % 100:02d}" / "src"
        folder.mkdir(parents=True)
        folders += 2
        body = filler * rng.randint(1, 4)
        if index % 100 == 7:
            voice = rng.choice(ids)
            body += f"voice_id: {voice}\nother: {voice}X\n"
            planted += 1
        (folder / f"f{index:06d}.{('yaml', 'py', 'csv', 'env')[index % 4]}").write_text(body)
    return planted, folders


def find_cat(root: Path) -> float:
    """Seconds for `find ROOT -type f -print0 | xargs -0 cat > /dev/null`."""
    began = time.perf_counter()
    subprocess.run(f"find '{root}' -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--git", action="store_true", help="make the tree a git work tree (git add)")
    parser.add_argument("--nested", action="store_true", help="one folder per file, ~2.14 folders per file")
    args = parser.parse_args()
    rng = random.Random(7)
    ids = voice_ids(args.ids, rng)
    mapping = VoiceMapping(Path("mapping.csv"), tuple(
        MappingRow(old, new, "name", "ready", True, "") for old, new in zip(ids, voice_ids(args.ids, rng), strict=True)
    ))
    with tempfile.TemporaryDirectory(prefix="cutover-bench-") as tmp:
        root = Path(tmp) / "tree"
        started = time.perf_counter()
        if args.nested:
            planted, folders = build_nested(root, args.files, ids, rng)
        else:
            planted, folders = build_tree(root, args.files, ids, rng), -(-args.files // 100)
        if args.git:
            subprocess.run(["git", "init", "-q", str(root)], check=True)
            subprocess.run(["git", "-C", str(root), "add", "."], check=True)
        print(f"built {args.files} files in {folders} folders ({planted} with an id) "
              f"in {time.perf_counter() - started:.1f} s")

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
        shell_s = min(find_cat(root) for _ in range(2)) if args.nested else 0.0
    assert listed == scanned == args.files, (listed, scanned)
    assert found == planted, f"found {found} occurrences, planted {planted}"
    print(f"baseline (list + read, no matching): {listed / base_s:,.0f} files/s ({base_s:.2f} s)")
    print(f"cutover scan ({args.ids} ids, one matcher): {scanned / scan_s:,.0f} files/s ({scan_s:.2f} s), "
          f"{found} occurrences")
    print(f"scan / baseline: {scan_s / base_s:.2f}x the time of reading the files")
    if args.nested:
        print(f"find -type f | xargs cat: {shell_s:.2f} s; cutover (list + scan): {scan_s:.2f} s, "
              f"{scan_s / shell_s:.2f}x find | xargs cat")


if __name__ == "__main__":
    main()
