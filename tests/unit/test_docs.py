"""The docs stay true: the README documents every command, flag, exit code and module; docs/
describe the code as it is (paths, knobs, layering, cited tests and names); CONTRIBUTING gives
the checks CI runs."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import re
from pathlib import Path

from audit.cli import build_parser
from audit.core.errors import ExitCode

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_documented() -> None:
    for name in _subcommands():
        assert f"clone-audit {name}" in README, name


def test_every_scan_flag_is_documented() -> None:
    scan = _subcommands()["scan"]
    for action in scan._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in README, flag


def test_every_exit_code_is_in_the_table() -> None:
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", README, re.M), code


def test_the_quick_start_is_two_commands_the_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "clone-audit demo" in README and "python -m pytest" in README
    assert "-m pytest" in ci and '".[test,lint]"' in ci


# -- the architecture, the API contract and CONTRIBUTING stay true ------------------------------

AUDIT = ROOT / "audit"
DOCS = ROOT / "docs"
CONTRACT = (DOCS / "api-contract.md").read_text(encoding="utf-8")
ARCHITECTURE = (DOCS / "architecture.md").read_text(encoding="utf-8")
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")

#: What each package of audit may import (besides itself and the top-level `audit` for its
#: version), as the layering rule says: core ← api ← scan/archive/migrate ← report ← pipeline ←
#: cli/demo. `report` may use the pure plan and state types of `migrate`, nothing else of it.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "api": {"core"},
    "fidelity": {"core"},
    "cutover": {"core"},
    "scan": {"core", "api", "fidelity"},
    "archive": {"core", "fidelity"},
    "migrate": {"core", "api", "fidelity"},
    "compliance": {"core"},
    "runs": {"core", "compliance.changes"},
    "report": {"core", "migrate.document", "migrate.state", "compliance.changes", "runs"},
    "pipeline": {"core", "api", "scan", "archive", "migrate", "report", "cutover", "compliance", "runs"},
    "emulator": {"core"},
    "console": {"core"},
}


def _modules() -> list[Path]:
    """Every Python module of the package, as a path relative to audit/ (no __init__/__main__)."""
    return sorted(
        p.relative_to(AUDIT) for p in AUDIT.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts
    )


def _packages() -> list[Path]:
    return sorted(p.parent for p in AUDIT.rglob("__init__.py") if p.parent != AUDIT)


def _readme_architecture_tree() -> set[str]:
    """The paths the README's Architecture section lists in its tree (`audit/core/models.py`, …),
    rebuilt from the indentation: two spaces per level."""
    section = README[README.index("## Architecture"):]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    listed: set[str] = set()
    stack: list[tuple[int, str]] = []
    for block in re.findall(r"```\n(.*?)```", section, re.S):
        for line in block.splitlines():
            words = line.split()
            if not words or not re.fullmatch(r"[\w.]+(/|\.py)", words[0]):
                continue
            indent = len(line) - len(line.lstrip(" "))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            listed.add("".join(name for _, name in stack) + words[0])
            if words[0].endswith("/"):
                stack.append((indent, words[0]))
    return listed


def test_every_module_is_in_the_readme_architecture_and_nothing_else() -> None:
    listed = _readme_architecture_tree()
    modules = {f"audit/{m.as_posix()}" for m in _modules()}
    assert modules - listed == set(), "modules missing from README's Architecture tree"
    listed_modules = {p for p in listed if p.startswith("audit/") and p.endswith(".py")}
    assert listed_modules - modules == set(), "README's Architecture tree lists modules that do not exist"
    for package in _packages():
        assert f"audit/{package.relative_to(AUDIT).as_posix()}/" in listed, package.name


def test_the_readme_architecture_points_at_the_docs() -> None:
    section = README[README.index("## Architecture"):]
    for target in ("docs/architecture.md", "docs/api-contract.md", "CONTRIBUTING.md"):
        assert f"]({target})" in section, target
        assert (ROOT / target).is_file(), target


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for package in _packages():
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert doc, f"audit/{package.name}/__init__.py has no docstring"
        assert "May import:" in doc, f"audit/{package.name}/__init__.py does not say what it may import"


def test_every_module_opens_with_a_docstring() -> None:
    for module in _modules():
        assert ast.get_docstring(ast.parse((AUDIT / module).read_text(encoding="utf-8"))), module


def _audit_imports(path: Path) -> set[str]:
    """The audit modules `path` imports, anywhere in it (lazy imports included), without `audit.`."""
    package = ["audit", *path.relative_to(AUDIT).parent.parts]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n[len("audit."):] for n in names if n.startswith("audit."))
    return found


def _allowed(imported: str, rules: set[str]) -> bool:
    return any(imported == rule or imported.startswith(rule + ".") for rule in rules)


def test_imports_only_run_downward() -> None:
    for module in _modules():
        owner = module.parts[0] if len(module.parts) > 1 else module.stem
        if owner not in MAY_IMPORT:  # cli and demo sit on top and may import anything
            continue
        for imported in _audit_imports(AUDIT / module):
            if imported == "__version__" or _allowed(imported, {owner}):
                continue
            assert _allowed(imported, MAY_IMPORT[owner]), f"audit/{module} imports audit.{imported}"


def test_the_layering_rule_is_written_where_contributors_read_it() -> None:
    rule = "core ← api ← scan / archive / migrate ← report ← pipeline ← cli / demo"
    for name, text in (("architecture.md", ARCHITECTURE), ("CONTRIBUTING.md", CONTRIBUTING)):
        assert rule in " ".join(text.split()), name
    assert rule in " ".join(README.split()).replace("`", "")


def test_the_api_contract_names_every_path_the_client_calls() -> None:
    from audit.api import client

    paths = {name: value for name, value in vars(client).items() if name.endswith("_PATH") and isinstance(value, str)}
    assert {"LIST_PATH", "CREATE_PATH", "TTS_PATH", "DELETE_PATH", "HEALTH_PATH"} <= set(paths)
    for name, value in paths.items():
        assert f"`{name}`" in CONTRACT, name
        assert f"`{value}`" in CONTRACT or f" {value}`" in CONTRACT, value


def test_the_api_contract_documents_every_emulator_knob() -> None:
    from audit.emulator.knobs import EmulatorConfig

    knobs = CONTRACT[CONTRACT.index("## §emulator knobs"):]
    for knob in dataclasses.fields(EmulatorConfig):
        assert re.search(rf"^\| [^|]*`{knob.name}`", knobs, re.M), knob.name


def test_every_test_the_docs_cite_exists() -> None:
    for name, text in (("api-contract.md", CONTRACT), ("architecture.md", ARCHITECTURE), ("CONTRIBUTING.md", CONTRIBUTING),
                       ("README.md", README)):
        current: Path | None = None
        for match in re.finditer(r"`(tests/[\w/]+\.py)?::(test_\w+)`|`(tests/[\w/]+\.py)`", text):
            file, test, bare = match.groups()
            if bare:
                assert (ROOT / bare).is_file(), f"{name}: {bare}"
                continue
            current = ROOT / file if file else current
            assert current is not None and current.is_file(), f"{name}: {match.group(0)}"
            assert re.search(rf"def {test}\(", current.read_text(encoding="utf-8")), f"{name}: {current.name}::{test}"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_every_code_name_the_docs_cite_exists() -> None:
    for name, text in (("api-contract.md", CONTRACT), ("architecture.md", ARCHITECTURE), ("CONTRIBUTING.md", CONTRIBUTING)):
        for dotted in set(re.findall(r"`(audit(?:\.\w+)+)`", text)):
            assert _resolves(dotted), f"{name}: {dotted}"
        for path in set(re.findall(r"`((?:audit|tests|bench|docs)/[\w/.-]+)`", text)):
            assert (ROOT / path).exists(), f"{name}: {path}"


def test_the_architecture_draws_every_command_it_composes() -> None:
    for module in (AUDIT / "pipeline").glob("*.py"):
        if module.stem != "__init__":
            assert f"### {module.stem} (`audit.pipeline.{module.stem}." in ARCHITECTURE, module.stem
    assert "### demo (`audit.demo." in ARCHITECTURE


def test_contributing_gives_the_checks_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [f"{tool}{rest}" for tool, rest in re.findall(r'^"\$venv/bin/(\w+)"(.*)$', ci, re.M)]
    checks = [c for c in commands if c.split()[0] in ("ruff", "mypy", "python") and " pip " not in c]
    assert len(checks) == 3, checks
    for command in checks:
        assert command in CONTRIBUTING, command
    assert "bash .ci/run" in CONTRIBUTING


def _pointer_files() -> list[Path]:
    files = [p for folder in ("audit", "tests", "bench") for p in (ROOT / folder).rglob("*") if p.is_file()]
    return [p for p in files if "__pycache__" not in p.parts and p.suffix in (".py", ".html", ".md", ".toml")]


def test_no_file_points_at_the_old_notes() -> None:
    old = ("waves-api" + ".md", "design" + ".md")  # split so this file does not match itself
    for path in [*_pointer_files(), ROOT / "pyproject.toml"]:
        text = path.read_text(encoding="utf-8")
        for name in old:
            assert name not in text, f"{path.relative_to(ROOT)} mentions {name}"


def test_every_pointer_into_the_docs_resolves() -> None:
    sections = set(re.findall(r"^## §(\w+)", CONTRACT, re.M))
    for path in [*_pointer_files(), ROOT / "pyproject.toml", ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        for doc in set(re.findall(r"docs/[\w-]+\.md", text)):
            assert (ROOT / doc).is_file(), f"{path.relative_to(ROOT)} points at {doc}"
        for line in text.splitlines():
            if "docs/api-contract.md" in line:
                for section in re.findall(r"§(\w+)", line):
                    assert section in sections, f"{path.relative_to(ROOT)} points at §{section}"
