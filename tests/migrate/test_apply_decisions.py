"""Apply's decision for every combination of what it rests on, against a table written by hand.

Dimensions: the voice's ledger row (every State, None, and the two kinds of failed and
queued rows: with and without a new clone), a replacement clone carrying the voice's
marker (absent, present with a valid proof, present but failed, present without a valid
proof), the ledger's new clone in the listing (listed, not listed, listed as failed),
--retry-failed, whether the plan expired, and whether the listing was asked for inside
or after the window in which an unknown create may still appear. Each row of the table
below gives the expected action for the eight (retry, expired, window) columns.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from audit.core.models import Clone, CloneStatus, marker_tag
from audit.core.provenance import Provenance
from audit.core.secrets import Secret
from audit.migrate.decide import (
    Adopt,
    AwaitUnknownCreate,
    Create,
    DecisionOptions,
    Hold,
    Listing,
    Recreate,
    RefuseExpired,
    SkipDone,
    SkipFailed,
    Step,
    Verify,
    WaitForCompletion,
    decide,
)
from audit.migrate.state import Migration, State

OLD, NEW, MARKED = "voice_old0000001", "voice_new0000001", "voice_marked0001"
SENT = datetime(2026, 11, 21, 12, tzinfo=UTC)
WINDOW = timedelta(seconds=10)
PROVENANCE = Provenance(Secret("sk_test_decisions"))

# The ledger rows: (state, whether the row names a new clone).
ROWS: dict[str, tuple[State, bool] | None] = {
    "none": None,
    "queued": (State.QUEUED, False),
    "queued-stale": (State.QUEUED, True),  # its completed clone was deleted; about to create again
    "creating": (State.CREATING, False),
    "created": (State.CREATED, True),
    "completed": (State.COMPLETED, True),
    "verified": (State.VERIFIED, True),
    "unverified": (State.UNVERIFIED, True),
    "mismatch": (State.MISMATCH, True),  # speaks, but not as its source; nobody reviewed it
    "mismatch-rejected": (State.MISMATCH, True),  # a person listened and refused it
    "mismatch-accepted": (State.MISMATCH, True),  # a person listened and kept it: ready
    "failed-no-clone": (State.FAILED, False),  # e.g. the sample was refused
    "failed-with-clone": (State.FAILED, True),  # e.g. not completed in time, or ended failed
}
#: The review a row carries (`clone-audit review`); every other row has none.
REVIEWS = {"mismatch-rejected": "rejected", "mismatch-accepted": "accepted"}
MARKERS = ("absent", "present", "failed", "foreign")
NEW_CLONE = ("listed", "not-listed", "listed-failed")
#: Column order of the table: retry_failed × expired × (listing inside | after the window).
COLUMNS = list(itertools.product((False, True), (False, True), ("inside", "after")))

# C create · R recreate (the deleted NEW) · A adopt MARKED · a adopt NEW · U await the unknown
# create · W wait for NEW · O wait for NEW, reopening a failed row · V verify NEW · D skip as done
# · F skip as failed · X refuse (expired) · H hold (an unverifiable marker)
#
#   row                   marker     new clone          r-,e-  r-,e+  r+,e-  r+,e+   (in/after)
TABLE: dict[tuple[str, str, str], str] = {
    ("none", "absent", "-"): "CC" "XX" "CC" "XX",
    ("none", "present", "-"): "AA" "AA" "AA" "AA",
    ("none", "failed", "-"): "CC" "XX" "CC" "XX",
    ("none", "foreign", "-"): "HH" "XX" "HH" "XX",
    ("queued", "absent", "-"): "CC" "XX" "CC" "XX",
    ("queued", "present", "-"): "AA" "AA" "AA" "AA",
    ("queued", "failed", "-"): "CC" "XX" "CC" "XX",
    ("queued", "foreign", "-"): "HH" "XX" "HH" "XX",
    ("queued-stale", "absent", "listed"): "aa" "aa" "aa" "aa",
    ("queued-stale", "present", "listed"): "aa" "aa" "aa" "aa",
    ("queued-stale", "failed", "listed"): "aa" "aa" "aa" "aa",
    ("queued-stale", "foreign", "listed"): "aa" "aa" "aa" "aa",
    ("queued-stale", "absent", "not-listed"): "CC" "CC" "CC" "CC",
    ("queued-stale", "present", "not-listed"): "AA" "AA" "AA" "AA",
    ("queued-stale", "failed", "not-listed"): "CC" "CC" "CC" "CC",
    ("queued-stale", "foreign", "not-listed"): "HH" "HH" "HH" "HH",
    ("queued-stale", "absent", "listed-failed"): "CC" "CC" "CC" "CC",
    ("queued-stale", "present", "listed-failed"): "AA" "AA" "AA" "AA",
    ("queued-stale", "failed", "listed-failed"): "CC" "CC" "CC" "CC",
    ("queued-stale", "foreign", "listed-failed"): "HH" "HH" "HH" "HH",
    ("creating", "absent", "-"): "UC" "UC" "UC" "UC",
    ("creating", "present", "-"): "AA" "AA" "AA" "AA",
    ("creating", "failed", "-"): "UC" "UC" "UC" "UC",
    ("creating", "foreign", "-"): "UH" "UH" "UH" "UH",
    ("created", "absent", "listed"): "WW" "WW" "WW" "WW",
    ("created", "present", "listed"): "WW" "WW" "WW" "WW",
    ("created", "failed", "listed"): "WW" "WW" "WW" "WW",
    ("created", "foreign", "listed"): "WW" "WW" "WW" "WW",
    ("created", "absent", "not-listed"): "WW" "WW" "WW" "WW",  # made moments ago: the list may lag
    ("created", "present", "not-listed"): "WW" "WW" "WW" "WW",
    ("created", "failed", "not-listed"): "WW" "WW" "WW" "WW",
    ("created", "foreign", "not-listed"): "WW" "WW" "WW" "WW",
    ("created", "absent", "listed-failed"): "WW" "WW" "WW" "WW",  # the wait records the failure
    ("created", "present", "listed-failed"): "WW" "WW" "WW" "WW",
    ("created", "failed", "listed-failed"): "WW" "WW" "WW" "WW",
    ("created", "foreign", "listed-failed"): "WW" "WW" "WW" "WW",
    ("completed", "absent", "listed"): "VV" "VV" "VV" "VV",
    ("completed", "present", "listed"): "VV" "VV" "VV" "VV",
    ("completed", "failed", "listed"): "VV" "VV" "VV" "VV",
    ("completed", "foreign", "listed"): "VV" "VV" "VV" "VV",
    ("completed", "absent", "not-listed"): "RR" "RR" "RR" "RR",  # deleted in the dashboard
    ("completed", "present", "not-listed"): "AA" "AA" "AA" "AA",
    ("completed", "failed", "not-listed"): "RR" "RR" "RR" "RR",
    ("completed", "foreign", "not-listed"): "HH" "HH" "HH" "HH",
    ("completed", "absent", "listed-failed"): "VV" "VV" "VV" "VV",  # the probe decides
    ("completed", "present", "listed-failed"): "VV" "VV" "VV" "VV",
    ("completed", "failed", "listed-failed"): "VV" "VV" "VV" "VV",
    ("completed", "foreign", "listed-failed"): "VV" "VV" "VV" "VV",
    ("unverified", "absent", "listed"): "FF" "FF" "VV" "VV",
    ("unverified", "present", "listed"): "FF" "FF" "VV" "VV",
    ("unverified", "failed", "listed"): "FF" "FF" "VV" "VV",
    ("unverified", "foreign", "listed"): "FF" "FF" "VV" "VV",
    ("unverified", "absent", "not-listed"): "FF" "FF" "RR" "RR",
    ("unverified", "present", "not-listed"): "AA" "AA" "AA" "AA",
    ("unverified", "failed", "not-listed"): "FF" "FF" "RR" "RR",
    ("unverified", "foreign", "not-listed"): "FF" "FF" "HH" "HH",
    ("unverified", "absent", "listed-failed"): "FF" "FF" "VV" "VV",
    ("unverified", "present", "listed-failed"): "FF" "FF" "VV" "VV",
    ("unverified", "failed", "listed-failed"): "FF" "FF" "VV" "VV",
    ("unverified", "foreign", "listed-failed"): "FF" "FF" "VV" "VV",
    ("failed-no-clone", "absent", "-"): "FF" "FF" "CC" "XX",
    ("failed-no-clone", "present", "-"): "AA" "AA" "AA" "AA",
    ("failed-no-clone", "failed", "-"): "FF" "FF" "CC" "XX",
    ("failed-no-clone", "foreign", "-"): "FF" "FF" "HH" "XX",
    ("failed-with-clone", "absent", "listed"): "FF" "FF" "OO" "OO",  # it was only slow
    ("failed-with-clone", "present", "listed"): "FF" "FF" "OO" "OO",
    ("failed-with-clone", "failed", "listed"): "FF" "FF" "OO" "OO",
    ("failed-with-clone", "foreign", "listed"): "FF" "FF" "OO" "OO",
    ("failed-with-clone", "absent", "not-listed"): "FF" "FF" "CC" "CC",
    ("failed-with-clone", "present", "not-listed"): "AA" "AA" "AA" "AA",
    ("failed-with-clone", "failed", "not-listed"): "FF" "FF" "CC" "CC",
    ("failed-with-clone", "foreign", "not-listed"): "FF" "FF" "HH" "HH",
    ("failed-with-clone", "absent", "listed-failed"): "FF" "FF" "CC" "CC",
    ("failed-with-clone", "present", "listed-failed"): "AA" "AA" "AA" "AA",
    ("failed-with-clone", "failed", "listed-failed"): "FF" "FF" "CC" "CC",
    ("failed-with-clone", "foreign", "listed-failed"): "FF" "FF" "HH" "HH",
}
TABLE.update({("verified", m, n): "DD" "DD" "DD" "DD" for m in MARKERS for n in NEW_CLONE})
TABLE.update({("mismatch-accepted", m, n): "DD" "DD" "DD" "DD" for m in MARKERS for n in NEW_CLONE})
# A mismatch not accepted is not done: it waits for --retry-failed like an unverified voice
# (checked again while its clone is listed; made again once a person deleted that clone).
for _kind in ("mismatch", "mismatch-rejected"):
    TABLE.update({(_kind, m, n): TABLE[("unverified", m, n)] for m in MARKERS for n in NEW_CLONE})

EXPECTED: dict[str, Step] = {
    "R": Recreate(NEW),
    "A": Adopt(MARKED),
    "a": Adopt(NEW),
    "U": AwaitUnknownCreate(SENT + WINDOW),
    "W": WaitForCompletion(NEW),
    "O": WaitForCompletion(NEW, reopen=True),
    "V": Verify(NEW),
    "D": SkipDone(),
    "F": SkipFailed(),
    "X": RefuseExpired(),
    "H": Hold((MARKED,)),
}


def _row(kind: str) -> Migration | None:
    shape = ROWS[kind]
    if shape is None:
        return None
    state, has_new = shape
    return Migration(
        old_voice_id=OLD, plan_id="p1", state=state, new_voice_id=NEW if has_new else None, display_name="Emma",
        language="en", source_sha256="ab" * 32, probe_verdict=None, verified_at=None, retired_at=None,
        detail="", creates=1, updated_at=SENT.isoformat(timespec="milliseconds"), review=REVIEWS.get(kind),
    )


def _ours(voice_id: str, status: CloneStatus) -> Clone:
    """A replacement of OLD as apply makes it: marker and proof."""
    return Clone(voice_id=voice_id, status=status, raw_status=status.value,
                 tags=("en", marker_tag(OLD), PROVENANCE.proof_tag(OLD)))


def _listing(marker: str, new_clone: str, listed_at: datetime) -> list[Clone]:
    clones = [Clone(voice_id=OLD, status=CloneStatus.COMPLETED, raw_status="completed")]
    if marker == "present":
        clones.append(_ours(MARKED, CloneStatus.COMPLETED))
    elif marker == "failed":
        clones.append(_ours(MARKED, CloneStatus.FAILED))
    elif marker == "foreign":
        clones.append(Clone(voice_id=MARKED, status=CloneStatus.COMPLETED, raw_status="completed",
                            tags=(marker_tag(OLD), "clone-audit-proof:" + "0" * 32)))
    if new_clone == "listed":
        clones.append(_ours(NEW, CloneStatus.COMPLETED))
    elif new_clone == "listed-failed":
        clones.append(_ours(NEW, CloneStatus.FAILED))
    return clones


def _cases() -> list[tuple[str, str, str, bool, bool, str, str]]:
    cases = []
    for kind, shape in ROWS.items():
        new_states = NEW_CLONE if shape is not None and shape[1] else ("-",)
        for marker, new_clone in itertools.product(MARKERS, new_states):
            codes = TABLE[(kind, marker, new_clone)]
            assert len(codes) == len(COLUMNS), (kind, marker, new_clone)
            for code, (retry, expired, window) in zip(codes, COLUMNS, strict=True):
                cases.append((kind, marker, new_clone, retry, expired, window, code))
    return cases


CASES = _cases()


def test_the_table_covers_every_combination_once() -> None:
    with_new = sum(1 for shape in ROWS.values() if shape is not None and shape[1])
    without_new = len(ROWS) - with_new
    assert len(TABLE) == len(MARKERS) * (with_new * len(NEW_CLONE) + without_new)
    assert len(CASES) == len(TABLE) * 8 == len({c[:6] for c in CASES})
    assert {r[0] for r in ROWS.values() if r} == set(State)  # every ledger state, and None


@pytest.mark.parametrize(
    ("row", "marker", "new_clone", "retry", "expired", "window", "code"), CASES,
    ids=["-".join(map(str, c[:6])) for c in CASES],
)
def test_each_combination_gets_the_action_in_the_table(
    row: str, marker: str, new_clone: str, retry: bool, expired: bool, window: str, code: str
) -> None:
    listed_at = SENT + (WINDOW / 2 if window == "inside" else WINDOW * 2)
    clones = _listing(marker, new_clone, listed_at)
    ledger_row = _row(row)
    account = Listing.of(clones, PROVENANCE.markers(clones), listed_at).view(OLD, ledger_row)
    options = DecisionOptions(retry_failed=retry, expired=expired, unknown_create_window=WINDOW)
    action = decide(ledger_row, account, options)
    if code == "C":
        assert isinstance(action, Create) and action.why
    else:
        assert action == EXPECTED[code]


def test_a_hold_says_which_clone_and_what_to_do() -> None:
    clones = _listing("foreign", "-", SENT)
    account = Listing.of(clones, PROVENANCE.markers(clones), SENT).view(OLD, None)
    action = decide(None, account, DecisionOptions(False, False, WINDOW))
    assert isinstance(action, Hold)
    assert MARKED in action.reason and "cannot verify" in action.reason and "delete it" in action.reason


def test_a_proof_made_with_another_key_does_not_count() -> None:
    other = Provenance(Secret("sk_someone_else"))
    clone = Clone(voice_id=MARKED, status=CloneStatus.COMPLETED, tags=(marker_tag(OLD), other.proof_tag(OLD)))
    markers = PROVENANCE.markers([clone])
    assert markers.origin(clone) is None and markers.claimed(clone) == OLD
    account = Listing.of([clone], markers, SENT).view(OLD, None)
    assert decide(None, account, DecisionOptions(False, False, WINDOW)) == Hold((MARKED,))


def test_a_proven_replacement_whose_id_is_not_plain_is_never_adopted_but_holds_the_voice() -> None:
    hostile = "../../x\x1b[2J\nFAKE"
    clone = Clone(voice_id=hostile, status=CloneStatus.COMPLETED, tags=(marker_tag(OLD), PROVENANCE.proof_tag(OLD)))
    markers = PROVENANCE.markers([clone])
    assert markers.origin(clone) is None and markers.claimed(clone) == OLD
    for row in (None, _row("creating")):  # nothing sent yet, or an unknown create: neither adopts nor creates
        action = decide(row, Listing.of([clone], markers, SENT + WINDOW * 2).view(OLD, row),
                        DecisionOptions(False, False, WINDOW))
        assert action == Hold((hostile,))
        assert "\n" not in action.reason and "\x1b" not in action.reason and "\\x1b" in action.reason
