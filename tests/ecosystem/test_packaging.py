"""What the package ships, checked without building it (scripts/check_package.sh, run by .ci/run,
builds the wheel and sdist, twine-checks them and runs `clone-audit demo` from the wheel in a
fresh venv): one version everywhere, and every data file the program reads inside the wheel."""

from __future__ import annotations

import importlib.metadata
import subprocess
import tomllib
from pathlib import Path, PurePosixPath

import audit
from tests.support.cli import clone_audit

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_one_version_source_for_the_wheel_the_cli_and_the_records() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "audit.__version__"}
    installed = importlib.metadata.version("clone-audit")  # what pip, pipx and uv report
    assert installed == audit.__version__
    assert clone_audit("--version").stdout.strip() == f"clone-audit {installed}"


def test_every_data_file_under_audit_is_package_data() -> None:
    """A template, the speaker weights or a stock speaker left out of the wheel breaks the
    installed tool, not the tests run from this tree."""
    tracked = subprocess.run(["git", "ls-files", "audit"], cwd=ROOT, capture_output=True, text=True, check=True)
    data = [PurePosixPath(p).relative_to("audit") for p in tracked.stdout.split()
            if not p.endswith((".py", ".pyi", ".typed"))]
    assert len(data) >= 20, data  # templates, weights and speakers
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["audit"]
    missing = [str(p) for p in data
               if not any(p.match(pattern) and len(p.parts) == len(PurePosixPath(pattern).parts) for pattern in patterns)]
    assert missing == [], f"not in [tool.setuptools.package-data]: {missing}"


def test_the_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"  # the table form is deprecated and warned about at build
