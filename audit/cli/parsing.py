"""The argument parser's habits, on top of argparse: "did you mean", whole error lines, and the
flags every command takes before or after its name.

`Parser` suggests the closest command, flag or choice for a mistyped one (`clone-audit scna`
names `scan`; `scan --probes` names `--probe`), still exiting 2; and when stderr is not a
terminal its usage and error lines are not wrapped to a width, so a log or a script gets each
whole. `add_global_flags` puts -v/--verbose, -q/--quiet and --no-color on the top parser and on
every command, so `clone-audit -v scan` and `clone-audit scan -v` mean the same; `parse_args`
merges the two places (`-v scan -v` is -vv). An error never echoes a word that looks like an API
key (`clone-audit scan sk_live_…`, the key typed where the environment should hold it): it
shows `****` and says where the key goes.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

#: Where the count of -v given after the command is kept until it is added to the one before.
_VERBOSE_AFTER = "verbose_after"
#: A width no usage line reaches: off a terminal, nothing is wrapped.
_UNWRAPPED = 1_000_000
#: A word of an error message, without the quotes and brackets argparse puts around it.
_WORD = re.compile(r"[^\s'\"(),]+")
_KEY_PREFIX = re.compile(r"(?:sk|pk|rk)[_-]", re.IGNORECASE)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_+/=-]{24,}")


class Parser(argparse.ArgumentParser):
    """argparse.ArgumentParser with suggestions for mistyped names and unwrapped errors off a terminal."""

    _unwrapped = False  # set while an error's usage is formatted off a terminal

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # reported by the command's parser, whose flags are the ones to suggest
            chosen = self._chosen(parsed) or self
            chosen.error(f"unrecognized arguments: {' '.join(extras)}{chosen.suggest_flags(extras)}")
        parsed.verbose = getattr(parsed, "verbose", 0) + getattr(parsed, _VERBOSE_AFTER, 0)
        if hasattr(parsed, _VERBOSE_AFTER):
            delattr(parsed, _VERBOSE_AFTER)
        return parsed

    def suggest_flags(self, extras: Sequence[str]) -> str:
        """"(--probes: did you mean --probe?)" for each unknown flag in `extras` close to one of this
        parser's; for one of its flags given before the command's name, where it goes."""
        known = [flag for flag in self._option_string_actions if flag.startswith("--")]
        hints = []
        for word in extras:
            flag = word.split("=", 1)[0]
            if flag in known:  # a command's flag given before the command's name
                hints.append(f"{flag} goes after the command: {self.prog} {flag}")
            elif flag.startswith("--"):
                close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
                if close:
                    hints.append(f"{flag}: did you mean {close[0]}?")
        return f" ({'; '.join(hints)})" if hints else ""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """A value outside the choices (a command's name included): the error names the closest."""
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        message = f"invalid choice: {value!r} (choose from {', '.join(choices)})"
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        raise argparse.ArgumentError(action, message)

    def error(self, message: str) -> NoReturn:
        """Usage and the error on stderr, exit 2 (as argparse), unwrapped when stderr is not a terminal."""
        self._unwrapped = not _is_terminal(sys.stderr)
        try:
            self.print_usage(sys.stderr)
        finally:
            self._unwrapped = False
        from audit.core.apikey import ENV_API_KEY  # only on an error: not on every start
        from audit.core.secrets import MASK, scrub

        masked = _WORD.sub(lambda m: MASK if _looks_like_key(m.group()) else m.group(), scrub(message))
        if masked != scrub(message):
            masked += f" (an API key is never an argument: export {ENV_API_KEY}=… instead)"
        self.exit(2, f"{self.prog}: error: {masked}\n")

    def _get_formatter(self) -> argparse.HelpFormatter:
        if self._unwrapped:
            return self.formatter_class(prog=self.prog, width=_UNWRAPPED)  # type: ignore[call-arg]
        return super()._get_formatter()

    def _chosen(self, parsed: argparse.Namespace) -> Parser | None:
        """The parser of the command `parsed` holds, if any."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                return chosen if isinstance(chosen, Parser) else None
        return None


def _looks_like_key(word: str) -> bool:
    """Whether `word` looks like an API key: `sk_…`-like, or a long run of key characters with
    letters and digits (no path, flag, run id or voice id is)."""
    if word.startswith("-") or "." in word:
        return False
    if _KEY_PREFIX.match(word) and len(word) >= 12:
        return True
    return bool(_KEY_CHARS.fullmatch(word) and word.count("/") < 2
                and re.search(r"\d", word) and re.search(r"[A-Za-z]", word))


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def add_global_flags(parser: argparse.ArgumentParser, *, top: bool, quiet_help: str) -> None:
    """-v/--verbose, -q/--quiet and --no-color, on the top parser (`top`) or on a command.

    On a command each defaults to nothing at all (argparse.SUPPRESS), so a flag given before
    the command is not reset by the command's parser; -v after it is counted apart and added.
    """
    unset: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("-v", "--verbose", action="count", dest="verbose" if top else _VERBOSE_AFTER,
                        help="-v info (which config file was read, each step), -vv debug from every library",
                        **({"default": 0} if top else unset))
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet_help, **unset)
    parser.add_argument("--no-color", action="store_true", dest="no_color",
                        help="no colour in what is printed (as NO_COLOR=1)", **unset)
