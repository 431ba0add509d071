"""The exception tree of clone-audit and the exit codes it maps to.

Library exceptions (httpx, soundfile, tomllib) are translated into this tree at the
edge where they occur, so the rest of the package and the CLI only ever see these:

    CloneAuditError                 every error carries a message and a hint
    ├── UsageError                  exit 2: the user's arguments or files are wrong
    │   └── ConfigError             a config file or environment value is invalid
    ├── RunError                    exit 3: the run could not complete
    │   ├── ApiError                the API answered with an error status
    │   │   ├── AuthError           401/403: the key is missing or wrong
    │   │   ├── RateLimited         429: over the account's concurrency limit
    │   │   ├── RequestRejected     400/404/405/422: the request itself was refused
    │   │   ├── Gone                410 MODEL_DEPRECATED: a retired route
    │   │   ├── BadAnswer           an answer that cannot be used: over its byte cap, too slow to
    │   │   │                       arrive, corrupt compression, not the JSON it must be (never retried)
    │   │   └── ServerError         5xx
    │   │       └── CreateOutcomeUnknown   a create failed in a way that may have created the clone
    │   ├── TransportError          no usable answer: connection refused or dropped, timeout
    │   │   └── ApiWentAway         no call could connect for [api] unreachable_s: the run stops
    │   └── QuotaReached            the account holds all the clones its plan allows: apply stops
    ├── Cancelled                   exit 130: a confirmation refused at the prompt, nothing changed
    └── AudioError                  bytes that do not decode as audio (a per-voice finding, not fatal)

Per-voice failures are caught by the stages and turned into data (a verdict with a
reason); only errors that stop the whole run reach the CLI, which prints the message
and the hint once and exits with the code of the class.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # nothing to flag
    FINDINGS = 1  # non-compliant voices (per --fail-on), or items that failed to migrate
    USAGE = 2  # usage or configuration error
    RUN_FAILED = 3  # the run could not complete (API unreachable, authentication)
    PARTIAL = 4  # some voices could not be checked
    INTERRUPTED = 130  # Ctrl-C (SIGINT): the shell's 128 + 2
    TERMINATED = 143  # SIGTERM: the shell's 128 + 15
    # A confirmation refused at apply's or retire's prompt ("n", nothing, end of input): as
    # Ctrl-C there, nothing was changed. The same code as INTERRUPTED (an alias, not a new code).
    CANCELLED = 130


class CloneAuditError(Exception):
    exit_code: ExitCode = ExitCode.RUN_FAILED
    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint


class UsageError(CloneAuditError):
    exit_code = ExitCode.USAGE


class Cancelled(CloneAuditError):
    """The user said no at a confirmation: not an error, nothing was changed."""

    exit_code = ExitCode.CANCELLED


class ConfigError(UsageError):
    default_hint = "See config.example.toml for every key and its default."


class RunError(CloneAuditError):
    exit_code = ExitCode.RUN_FAILED


class ApiError(RunError):
    """The API answered, with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        hint: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error_code = error_code


class AuthError(ApiError):
    default_hint = (
        "Check SMALLEST_API_KEY: it must hold a valid key of this organisation (it starts with sk_)."
    )


class RateLimited(ApiError):
    default_hint = "Lower [api] concurrency to the account's limit (1 on the default plan)."

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class RequestRejected(ApiError):
    pass


class Gone(ApiError):
    default_hint = "This route was retired by the vendor (410 MODEL_DEPRECATED)."


class BadAnswer(ApiError):
    """The API answered, but the answer itself is unusable: bigger than the call's byte cap,
    still arriving when the call's deadline passed, corrupt compression, or not JSON of the
    expected shape. Asking again would most likely get the same, so it is never retried."""

    default_hint = "The API's answer was unusable; if it persists, report it with the X-Request-Id."


class ServerError(ApiError):
    default_hint = "The API failed on its side; try again later."


class CreateOutcomeUnknown(ServerError):
    """A create timed out or failed mid-way: the clone may exist anyway. Never retry blindly."""

    default_hint = "Look the clone up in the list before creating it again."


class TransportError(RunError):
    default_hint = "Check the base URL and the network; the API did not give a usable answer."

    def __init__(self, message: str, *, request_sent: bool = True, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.request_sent = request_sent  # False: the connection was never made


class ApiWentAway(TransportError):
    """Every call failed to connect for `[api] unreachable_s` after the API had answered: it
    went away mid-run. The run stops at once (never retried) and says what was done."""

    default_hint = ("The API stopped accepting connections. Check the network and the API's status page, "
                    "then run the command again.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, request_sent=False, hint=hint)


class QuotaReached(RunError):
    """A create refused because the account holds all the clones its plan allows: every
    other create would be refused too, so apply stops at once."""

    default_hint = (
        "Delete or retire clones you no longer need (`clone-audit retire` for replaced legacy voices), "
        "or upgrade the plan for a higher clone limit, then run apply again: it resumes where it stopped "
        "(the voices not sent are still queued)."
    )


class AudioError(CloneAuditError):
    """Bytes that are not decodable audio."""
