#!/usr/bin/env bash
# The package as a user gets it (run by .ci/run; run it by hand before a release):
#
#     bash scripts/check_package.sh [PYTHON]    # PYTHON has build and twine (the test extra); default python3
#
# `python -m build` makes the sdist and, from it, the wheel; `twine check --strict` checks their
# metadata as PyPI would; the wheel (not this tree) goes into a fresh venv with its
# dependencies, and `clone-audit demo` runs there from an empty folder, so a template, the
# speaker weights or the emulator's speakers left out of the wheel fail here. Temporary folders
# only; the tree gets the usual build/ and *.egg-info (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"

dist="$(mktemp -d)"
"$python" -m build --outdir "$dist" . >"$dist/build.log" 2>&1 || { cat "$dist/build.log"; exit 1; }
"$python" -m twine check --strict "$dist"/*.whl "$dist"/*.tar.gz

wheel_venv="$(mktemp -d)/venv"
python3 -m venv "$wheel_venv"
# --no-compile: byte-compiling pandas and numpy at install time is most of pip's time.
"$wheel_venv/bin/python" -m pip install --quiet --no-compile "$dist"/*.whl
demo_dir="$(mktemp -d)"
(cd "$demo_dir" && "$wheel_venv/bin/clone-audit" demo --clones 12 >demo.log 2>&1) || { cat "$demo_dir/demo.log"; exit 1; }
grep -q "Demo finished" "$demo_dir/demo.log"
echo "Package OK: $(cd "$dist" && ls -- *.whl *.tar.gz | tr '\n' ' ')installed from the wheel, clone-audit demo ran."
