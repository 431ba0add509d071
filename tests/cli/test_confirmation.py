"""apply's and retire's question on a real terminal (a pseudo-terminal as stdin): it shows the
voices (the first 20, then how many more) and the cost before asking, and a "no" (an
answer that is not the count, an empty line, the end of input) cancels: exit 130, "cancelled,
nothing was created/deleted", no call that changes the account, no word of --yes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli.session import proposal_lines
from audit.core.errors import ExitCode
from audit.migrate.proposal import Proposal
from tests.support.cli import planned_account

pytestmark = pytest.mark.integration

KEY = "sk_test_CONFIRM_0123456789abcdef"
CHANGES = ("POST", "DELETE", "PUT", "PATCH")


def on_a_terminal(args: list[str], env: dict[str, str], typed: bytes) -> subprocess.CompletedProcess[str]:
    """`clone-audit ARGS` with a pseudo-terminal as stdin on which `typed` was typed."""
    leader, follower = os.openpty()
    try:
        os.write(leader, typed)  # the terminal holds it until the question reads it
        base = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
        return subprocess.run([sys.executable, "-m", "audit", *args], stdin=follower, capture_output=True,
                              text=True, timeout=180, env={**base, "COLUMNS": "200", **env})
    finally:
        os.close(follower)
        os.close(leader)


def test_a_refused_confirmation_cancels_after_showing_the_voices_and_the_cost(tmp_path: Path) -> None:
    with planned_account(tmp_path, KEY, 30, 6) as planned:
        before = len(planned.server.state.requests())
        for typed in (b"n\n", b"\n", b"\x04"):  # "n", nothing, Ctrl-D (end of input)
            done = on_a_terminal(["apply", str(planned.plan_file)], planned.env, typed)
            assert done.returncode == ExitCode.CANCELLED == 130, done.stderr
            said = done.stderr
            assert "About to work on" in said and "Cost:" in said and "clone create(s)" in said, said
            asked = said.index("Type ")
            assert said.index("About to") < said.index("Cost:") < asked  # shown before the question
            assert "cancelled" in said and "nothing was created" in said
            assert "--yes" not in said and "error:" not in said, said
            assert "Type " not in done.stdout  # the question is not part of the result on stdout
        shown = [line.strip().split()[0] for line in said[:asked].splitlines()[1:] if line.startswith("  ")]
        assert shown and all(voice in planned.plan_file.read_text(encoding="utf-8") for voice in shown)
        assert not [r for r in planned.server.state.requests()[before:] if r.method in CHANGES]

        applied = on_a_terminal(["apply", str(planned.plan_file), "--limit", "2"], planned.env, b"2\n")
        assert applied.returncode == 0, applied.stderr  # the count typed: it goes on
        refused = on_a_terminal(["retire", str(planned.plan_file)], planned.env, b"no\n")
        assert refused.returncode == 130, refused.stderr
        assert "About to delete 2 legacy clone(s)" in refused.stderr and "deleted for good" in refused.stderr
        assert "cancelled" in refused.stderr and "nothing was deleted" in refused.stderr
        assert "--yes" not in refused.stderr
        assert not [r for r in planned.server.state.requests() if r.method == "DELETE"]


def test_the_question_lists_twenty_voices_and_counts_the_rest() -> None:
    voices = tuple(f"voice_{i:02d}  Name {i}" for i in range(27))
    lines = proposal_lines(Proposal("work on 27 voice(s)", voices, "27 clone create(s)"))
    assert lines[0] == "About to work on 27 voice(s):"
    assert lines[1:21] == [f"  {v}" for v in voices[:20]]
    assert lines[21] == "  … and 7 more" and lines[22] == "Cost: 27 clone create(s)"
    assert len(proposal_lines(Proposal("x", voices[:20], "c"))) == 22  # twenty: no "more" line
