"""A composite GitHub Action's steps run here as a runner runs them: `run_composite(action, with_,
workspace=..., runner_temp=...)` reads action.yml, fills each step's `env` and `with` from the
inputs (their defaults, then `with_`), `github.*`, `runner.*` and earlier steps' outputs, decides
each `if:`, and runs every `run:` step with `bash --noprofile --norc -eo pipefail` (GitHub's
`shell: bash`), with GITHUB_OUTPUT, GITHUB_PATH and GITHUB_STEP_SUMMARY files as the runner
keeps them. A `uses:` step is not run: it is returned with its filled-in `with`, for the test to
check. Only the expressions the action uses are understood (a dotted name, `==`/`!=` a quoted
literal); any other raises, so a new kind of expression must be taught here before it is trusted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")
_TEST = re.compile(r"^(?P<name>[\w.-]+)\s*(?P<op>==|!=)\s*'(?P<literal>[^']*)'$")


@dataclass
class StepRun:
    name: str
    uses: str = ""  # a `uses:` step, not run
    with_: dict[str, str] = field(default_factory=dict)
    skipped: bool = False  # its `if:` was false
    returncode: int | None = None  # a `run:` step
    stdout: str = ""
    stderr: str = ""


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]  # the action's outputs
    summary: str  # what the steps wrote to GITHUB_STEP_SUMMARY
    failed: StepRun | None  # the step that failed the action (the runner stops there)

    def output_text(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def run_composite(action_file: Path, with_: dict[str, str], *, workspace: Path, runner_temp: Path,
                  env: dict[str, str] | None = None, timeout: float = 900) -> ActionRun:
    action = load(action_file)
    assert action["runs"]["using"] == "composite"
    unknown = set(with_) - set(action.get("inputs", {}))
    assert not unknown, f"inputs the action does not declare: {unknown}"
    inputs = {name: str(spec.get("default", "")) for name, spec in action.get("inputs", {}).items()}
    inputs.update(with_)
    context: dict[str, Any] = {
        "inputs": inputs, "steps": {},
        "github": {"action_path": str(action_file.parent), "workspace": str(workspace)},
        "runner": {"temp": str(runner_temp), "os": "Linux"},
    }
    files = {name: runner_temp / f"_{name.lower()}" for name in ("GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    base = {**(env if env is not None else os.environ),
            "GITHUB_ACTION_PATH": str(action_file.parent), "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(runner_temp), "CI": "true", "GITHUB_ACTIONS": "true",
            **{name: str(path) for name, path in files.items()}}
    python_dir = str(Path(sys.executable).parent)  # what actions/setup-python would put on PATH
    runs: list[StepRun] = []
    failed: StepRun | None = None
    for number, step in enumerate(action["runs"]["steps"]):
        run = StepRun(step.get("name", f"step {number}"))
        runs.append(run)
        if "if" in step and not _condition(str(step["if"]), context):
            run.skipped = True
            continue
        if "uses" in step:
            run.uses = step["uses"]
            run.with_ = {k: _fill(str(v), context) for k, v in (step.get("with") or {}).items()}
            continue
        assert step.get("shell") == "bash", f"{run.name}: a composite run step must name its shell"
        assert "${{" not in step["run"], f"{run.name}: an expression spliced into the script (pass it by env)"
        files["GITHUB_OUTPUT"].write_text("", encoding="utf-8")
        added = [line for line in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines() if line]
        step_env = {**base, **{k: _fill(str(v), context) for k, v in (step.get("env") or {}).items()}}
        step_env["PATH"] = os.pathsep.join([*reversed(added), python_dir, base.get("PATH", "")])
        script = runner_temp / f"_step{number}.sh"
        script.write_text(step["run"], encoding="utf-8")
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                              env=step_env, capture_output=True, text=True, timeout=timeout)
        run.returncode, run.stdout, run.stderr = done.returncode, done.stdout, done.stderr
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": _outputs(files["GITHUB_OUTPUT"].read_text(encoding="utf-8"))}
        if done.returncode != 0:
            failed = run
            break
    outputs = {name: _fill(str(spec["value"]), context) for name, spec in action.get("outputs", {}).items()}
    return ActionRun(runs, outputs, files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8"), failed)


def _lookup(name: str, context: dict[str, Any]) -> str:
    assert _NAME.fullmatch(name), f"an expression this harness does not model: {name!r}"
    value: Any = context
    for part in name.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return value if isinstance(value, str) else ""


def _fill(text: str, context: dict[str, Any]) -> str:
    return _EXPR.sub(lambda m: _lookup(m.group(1), context), text)


def _condition(text: str, context: dict[str, Any]) -> bool:
    match = _TEST.match(_EXPR.sub(lambda m: m.group(1), text).strip())
    assert match, f"an `if:` this harness does not model: {text!r}"
    equal = _lookup(match["name"], context) == match["literal"]
    return equal if match["op"] == "==" else not equal


def _outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs
