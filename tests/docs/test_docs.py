"""The docs stay true: the README is a short front door (commands table, quick start, exit
codes, links into docs/); docs/ pages hold the reference (every flag and config key, every module,
every emulator knob, every promise with the test that proves it) and describe the code as it is
(paths, knobs, layering, cited tests and names); every link between them resolves; CONTRIBUTING
gives the checks CI runs."""

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
DOCS = ROOT / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text(encoding="utf-8")
GUARANTEES = (DOCS / "guarantees.md").read_text(encoding="utf-8")

#: The README is a front door: anything longer belongs in a docs/ page.
README_MAX_LINES = 250


def _section(text: str, heading: str) -> str:
    """The text under `heading` (a whole heading line, `## Commands`) up to the next heading of
    the same or a higher level; a `#` line inside a fenced code block is no heading."""
    level = len(heading.split()[0])
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == heading]
    assert starts, f"no section {heading!r}"
    body: list[str] = []
    fenced = False
    for line in lines[starts[0] + 1:]:
        fenced ^= line.startswith("```")
        heading_level = len(line) - len(line.lstrip("#"))
        if not fenced and 0 < heading_level <= level and line[heading_level:heading_level + 1] == " ":
            break
        body.append(line)
    return "".join(body)


def _table_rows(section: str) -> list[list[str]]:
    """The cells of each body row of the Markdown tables in `section` (separator rows and header
    rows dropped; an escaped `\\|` inside a cell read as `|`)."""
    rows: list[list[str]] = []
    lines = section.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("|") or re.fullmatch(r"\|[-| :]+\|", line):
            continue
        if index + 1 < len(lines) and re.fullmatch(r"\|[-| :]+\|", lines[index + 1]):
            continue  # a header row
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.replace("\\|", "|").strip() for cell in cells])
    return rows


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_readme_is_a_front_door_of_at_most_250_lines() -> None:
    lines = len(README.splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move reference text into docs/"


def test_every_command_is_in_the_readme_commands_table_and_only_those() -> None:
    rows = _table_rows(_section(README, "## Commands"))
    named = [re.match(r"`clone-audit (\w+)", row[0]) for row in rows]
    assert all(named), [row[0] for row, m in zip(rows, named, strict=True) if not m]
    assert sorted(m.group(1) for m in named if m) == sorted(_subcommands()), "the README's commands table and the CLI differ"


def test_every_flag_of_every_command_is_in_the_configuration_flags_table() -> None:
    rows = _table_rows(_section(CONFIGURATION, "## Flags"))
    documented = {
        (flag, command.strip())
        for first, commands, *_ in rows
        for flag in re.findall(r"(?<![\w-])(--?[\w-]+)", first)
        for command in commands.split(",")
    }
    for name, parser in _subcommands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert (flag, name) in documented, f"clone-audit {name} {flag}"
    commands = set(_subcommands())
    assert {command for _, command in documented} <= commands, "the flags table names a command that does not exist"


def _example_keys() -> dict[str, dict[str, str]]:
    """config.example.toml's keys per section, each with its default as written there."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        if header := re.fullmatch(r"\[([\w.]+)\]", line.strip()):
            current = header.group(1)
            sections[current] = {}
        elif pair := re.fullmatch(r"(\w+) = (.+)", line.strip()):
            sections[current][pair.group(1)] = pair.group(2)
    return sections


def test_every_config_key_is_in_the_configuration_page_with_its_default() -> None:
    keys = _section(CONFIGURATION, "## Keys")
    sections = _example_keys()
    assert sum(len(k) for k in sections.values()) >= 30, "config.example.toml was not read"
    for section, pairs in sections.items():
        rows = {row[0]: row for row in _table_rows(_section(keys, f"### `[{section}]`"))}
        for key, default in pairs.items():
            assert f"`{key}`" in rows, f"[{section}] {key}"
            assert rows[f"`{key}`"][1] == f"`{default}`", f"[{section}] {key}: default {default}"
        listed = {cell.strip("`") for cell in rows if cell.startswith("`")}
        assert listed <= set(pairs), f"[{section}] documents keys the example does not have: {listed - set(pairs)}"


def test_every_exit_code_is_in_the_table() -> None:
    table = _section(README, "## Exit codes")
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", table, re.M), code


def test_the_quick_start_is_two_commands_the_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (block, *_) = re.findall(r"```sh\n(.*?)```", _section(README, "## Quick start"), re.S)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.startswith("python3 -m venv ") and demo.endswith("clone-audit demo"), demo
    assert tests.startswith("python3 -m venv ") and "[test]" in tests and " -m pytest" in tests, tests
    assert "-m pytest" in ci and '".[test,lint]"' in ci


def test_the_readme_links_to_every_docs_page() -> None:
    for page in sorted(DOCS.glob("*.md")):
        assert f"](docs/{page.name})" in README, page.name
    assert "](CONTRIBUTING.md)" in README


# -- the architecture, the API contract and CONTRIBUTING stay true ------------------------------

AUDIT = ROOT / "audit"
CONTRACT = (DOCS / "api-contract.md").read_text(encoding="utf-8")
ARCHITECTURE = (DOCS / "architecture.md").read_text(encoding="utf-8")
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
#: Every page of documentation, by its path from the repository root.
PAGES: dict[str, str] = {
    "README.md": README,
    "CONTRIBUTING.md": CONTRIBUTING,
    **{f"docs/{page.name}": page.read_text(encoding="utf-8") for page in sorted(DOCS.glob("*.md"))},
}

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


def _listed_modules() -> set[str]:
    """The paths docs/architecture.md's "Modules" listing names (`audit/core/models.py`, …),
    rebuilt from the indentation: two spaces per level, one line per module or folder."""
    listed: set[str] = set()
    stack: list[tuple[int, str]] = []
    for block in re.findall(r"```\n(.*?)```", _section(ARCHITECTURE, "## Modules"), re.S):
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


def test_every_module_is_in_the_architecture_listing_and_nothing_else() -> None:
    listed = _listed_modules()
    modules = {f"audit/{m.as_posix()}" for m in _modules()}
    assert modules - listed == set(), "modules missing from the Modules listing of docs/architecture.md"
    listed_modules = {p for p in listed if p.startswith("audit/") and p.endswith(".py")}
    assert listed_modules - modules == set(), "docs/architecture.md's Modules listing names modules that do not exist"
    for package in _packages():
        assert f"audit/{package.relative_to(AUDIT).as_posix()}/" in listed, package.name


def test_every_benchmark_and_script_is_in_the_architecture_listing() -> None:
    listed = _listed_modules()
    for folder in ("bench", "scripts"):
        files = {f"{folder}/{p.name}" for p in (ROOT / folder).glob("*.py")}
        assert files, folder
        assert files - listed == set(), f"{folder}/ scripts missing from docs/architecture.md"
        assert {p for p in listed if p.startswith(f"{folder}/")} <= files | {f"{folder}/"}, folder


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
    assert rule in " ".join(_section(ARCHITECTURE, "## Overview: data flows one way").split()).replace("`", "")


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


_CITED = r"`(tests/[\w/]+\.py)?::(test_\w+)`|`(tests/[\w/]+\.py)`"


def test_every_test_the_docs_cite_exists() -> None:
    assert {"docs/guarantees.md", "docs/api-contract.md", "docs/architecture.md"} <= set(PAGES)
    for name, text in PAGES.items():
        current: Path | None = None
        for match in re.finditer(_CITED, text):
            file, test, bare = match.groups()
            if bare:
                assert (ROOT / bare).is_file(), f"{name}: {bare}"
                continue
            current = ROOT / file if file else current
            assert current is not None and current.is_file(), f"{name}: {match.group(0)}"
            assert re.search(rf"def {test}\(", current.read_text(encoding="utf-8")), f"{name}: {current.name}::{test}"


def test_every_guarantee_names_the_test_that_proves_it() -> None:
    rows = _table_rows(GUARANTEES)
    assert len(rows) >= 20, "docs/guarantees.md lost its promises"
    for promise, proof in rows:
        first = re.search(_CITED, proof)
        assert first and first.group(1), f"no test file cited for: {promise[:60]}"


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
    for name, text in PAGES.items():
        for dotted in set(re.findall(r"`(audit(?:\.\w+)+)`", text)):
            assert _resolves(dotted), f"{name}: {dotted}"
        for path in set(re.findall(r"`((?:audit|tests|bench|docs|scripts)/[\w/.-]+)`", text)):
            assert (ROOT / path).exists(), f"{name}: {path}"


def _anchors(text: str) -> set[str]:
    """The anchors a Markdown page offers on GitHub: explicit `<a id>`s, and each heading's
    slug (lower case, punctuation dropped, spaces as hyphens; a repeated one gets -1, -2, …)."""
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        heading = re.match(r"#{1,6} (.*)", line)
        if fenced or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_every_link_between_the_pages_resolves() -> None:
    checked = 0
    for name, text in PAGES.items():
        prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):
                continue  # an external address
            path, _, anchor = target.partition("#")
            file = (ROOT / name).parent / path if path else ROOT / name
            assert file.exists(), f"{name} links to {target}: no such file"
            if anchor:
                assert file.suffix == ".md", f"{name} links to {target}"
                assert anchor in _anchors(file.read_text(encoding="utf-8")), f"{name} links to {target}: no such anchor"
            checked += 1
    assert checked >= 50, checked


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
    for path in [*_pointer_files(), ROOT / "pyproject.toml", *(ROOT / name for name in PAGES)]:
        text = path.read_text(encoding="utf-8")
        for doc in set(re.findall(r"docs/[\w-]+\.md", text)):
            assert (ROOT / doc).is_file(), f"{path.relative_to(ROOT)} points at {doc}"
        for line in text.splitlines():
            if "docs/api-contract.md" in line:
                for section in re.findall(r"§(\w+)", line):
                    assert section in sections, f"{path.relative_to(ROOT)} points at §{section}"
