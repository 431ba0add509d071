"""The emulator's knobs: how the emulated account behaves, checked once when it is made.

This module owns `EmulatorConfig` (a frozen dataclass: key, limits, faults, latency, clone
lifecycle, delete modes, the wrong-pool answer, the Atoms agents' seeding, scans and calls, seed) and its
validation, `Fault` (which requests of a route get one kind of hostile answer), the fault orders
`TTS_FAULTS` / `LIST_FAULTS` / `AGENT_LIST_FAULTS`, and the names of route kinds
(`RouteKind`) that latency and the request limit are keyed by. It holds no runtime state: that is
`state.EmulatorState`, which reads a config and never changes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

RouteKind = Literal["list", "create", "tts", "delete", "health", "analytics", "agents"]
DeleteMode = Literal["gone", "ok"]
WrongPoolAnswer = Literal["short", "garbage"]
DeletePostMode = Literal["jwt_only", "open"]

#: The clone-quota refusal as the vendor documents it (400, how-to errors table).
QUOTA_TEXT = "clone limit exceeded, consider upgrading"
#: Older wordings of the same refusal a client must still recognise (`quota_text` knob).
OLDER_QUOTA_TEXTS = ("Voice clone limit reached: your plan allows {quota} voice clones",
                     "Clone quota exceeded for this plan ({quota} voices)")


def _generated_key() -> str:
    return "sk_emulator_" + secrets.token_hex(16)


def _no_latency() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Fault:
    """Which requests of a route get one kind of broken answer.

    `every=N` hits the N-th, 2N-th, … request of the route (counted from the emulator's start,
    after authentication; exact counts, whatever the seed); `rate=r` hits a share r of the
    requests, drawn from the seed. Both may be set: a request is hit when either says so.
    `Fault()` is off.
    """

    every: int = 0
    rate: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 0:
            raise ValueError(f"Fault.every must be a whole number >= 0, got {self.every!r}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Fault.rate must be within [0, 1], got {self.rate}")

    def __bool__(self) -> bool:
        return self.every > 0 or self.rate > 0.0


OFF = Fault()

#: The TTS faults, in the order they are checked (the first that hits a request wins).
TTS_FAULTS = ("tts_trickle", "tts_gzip_bomb", "tts_endless", "tts_json", "tts_html", "tts_empty")
#: The list faults, in the order they are checked.
LIST_FAULTS = ("list_truncated", "list_garbage", "list_wrong_shape", "list_huge")
#: The faults of a page of the Atoms agent list (`GET /atoms/v1/agent`), in the order they are checked.
AGENT_LIST_FAULTS = ("agents_page_loop", "agents_truncated", "agents_garbage", "agents_wrong_shape", "agents_huge")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated account behaves. Rates are shares in [0, 1] drawn from `seed`.

    `retry_after` is sent as written (`1.0` → `Retry-After: 1`, `0.5` → `0.5`); HTTP and the
    official SDK only understand whole seconds, so a fraction exercises a client's fallback.
    `latency` maps a route kind ("list", "create", "tts", "delete", "health", "analytics") to
    seconds. `traffic_days` > 0 seeds the TTS analytics log with a generated history of that
    many days of calls per voice (legacy voices included), drawn from `seed`.

    Hostile answers. Each is a `Fault` (`Fault(every=N)` or `Fault(rate=r)`, off by default)
    choosing which requests of its route get it, so a scan mixes healthy and broken answers.
    They apply to valid, authenticated requests (a bad voice id still gets its 400), after the
    429 gate; when several hit the same request, the first in TTS_FAULTS / LIST_FAULTS wins.

    POST /waves/v1/tts, all with status 200:
    - `tts_trickle`: the clone's real audio, `trickle_bytes_per_s` bytes a second (Content-Length
      is the full size, so only a whole-request deadline ends it early).
    - `tts_gzip_bomb`: `Content-Encoding: gzip`, a WAV header then zeros; `gzip_bomb_bytes`
      decompressed (default 1 GiB) from ~1/1000 of that on the wire, compressed as it streams,
      never held in memory. A client that inflates without a cap eats the whole size.
    - `tts_endless`: `audio/wav`, a WAV header then zeros, streamed as fast as the client reads
      and never ending (chunked, no Content-Length).
    - `tts_json`: `application/json`, `{"status": "success", "audio": null, …}` (~80 bytes).
    - `tts_html`: `text/html`, a proxy's error page (~200 bytes).
    - `tts_empty`: `audio/wav` with an empty body although Accept asked for audio/wav.

    GET /waves/v1/voice-cloning, all with status 200:
    - `list_truncated`: the real list's JSON cut in half (Content-Length matches the half sent).
    - `list_garbage`: `application/json` whose body is an HTML page, not JSON.
    - `list_wrong_shape`: the real list with every `wrong_shape_every`-th entry (index 0, N,
      2N, …) replaced by shape `(index // N) % 6` of WRONG_SHAPES: 0 the bare voiceId string,
      1 no voiceId, 2 voiceId as a number, 3 modelIds and tags as strings (modelIds the string
      "lightning-v3.1" whatever the engine), 4 createdAt as a number and status "archived",
      5 null. Shapes 0, 1, 2 and 5 cannot be parsed; 3 and 4 are schema drift in optional fields.
    - `list_huge`: the real list followed by a `padding` string, `huge_list_bytes` in all
      (default 48 MiB), streamed.

    POST /waves/v1/voice-cloning:
    - `wrong_speaker`: the create succeeds as usual, but the new clone's TTS speaks as another
      person (the stock speaker whose pitch is furthest from the upload's) instead of the
      uploaded sample's voice; counted over creates that reach the clone's record.

    GET /waves/v1/analytics/tts/logs:
    - `analytics_ignores_page`: every page asked for is answered with page 1 (saying `"page": 1`),
      with the true `totalPages`.

    Atoms agents (`/atoms/v1/agent…`, atoms.py; counted per route, from the emulator's start):
    - `agent_count`: the seeded agents (agentseed.py): the scenario agents naming the org's
      voices, then plain ones naming v3.1 voices up to this many in all; 0 seeds none.
    - `agents_scan_s`: 0 commits a publish at once (200 `committed`); more answers 202 `scanning`
      and commits that many seconds later on the emulator's clock.
    - `agents_scan_fail` (Fault, over publishes): the security scan fails: a 409
      `security_scan_failed` at once (no scan delay), or after `agents_scan_s` the revision stays
      uncommitted with `securityCheck.status` "failed" and the draft reopens; publishing that
      draft again is a 409 until it is edited.
    - `agents_draft_conflict` (Fault, over draft writes): a colleague saves the same fields of the
      draft just before the write, so a write with `expectedRevision` gets the 409 conflict (and
      the branch then holds that colleague's open draft).
    - `agents_check_voice_ids`: a draft write naming a voice id for the Waves model
      (`waves_lightning_v3_1`) that is neither a clone of the account nor a stock voice is a
      400, as the vendor says that model validates `voiceId`; off by default (any id is taken).
    - `agent_call_every_s`: every active agent places a call this often on the clock, one TTS
      call in the analytics log per voice id its live branch names; 0: no calls.
    Pages of `GET /atoms/v1/agent`, all with status 200:
    - `agents_page_loop`: whatever page is asked, page 1's agents (with the true `total`), so a
      client paging until it has them all goes round forever.
    - `agents_truncated`: the healthy page's JSON cut in half.
    - `agents_garbage`: `application/json` whose body is an HTML page.
    - `agents_wrong_shape`: every `wrong_shape_every`-th agent of the page bent by turns: its
      `_id` a number, `synthesizer` a string, `synthesizer.voiceConfig` a list, the entry null;
      and `total` as a string.
    - `agents_huge`: the healthy page followed by a `padding` string, `huge_list_bytes` in all.
    """

    api_key: str = field(default_factory=_generated_key)
    tts_concurrency: int = 1
    # Which calls count against `tts_concurrency`. The live API documents only TTS; list and
    # create may count too, so ("tts", "list", "create") exercises a client that must cope with either.
    limit_counts: tuple[RouteKind, ...] = ("tts",)
    retry_after: float | None = 1.0
    tts_429_every: int = 0
    latency: Mapping[str, float] = field(default_factory=_no_latency)
    fault_5xx_rate: float = 0.0
    create_timeout_rate: float = 0.0
    clone_error_rate: float = 0.0  # creates refused with 500 voice_clone_error (no clone made)
    list_lag_s: float = 0.0  # a new clone shows in the list only this long after its create
    model_as_object: bool = False  # create answers data.model as {"_id", "modelName"}, as seen live
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 0.0
    delete_mode: DeleteMode = "gone"
    # POST /waves/v1/voice-cloning/delete: "jwt_only" answers 401 to an API key, as the vendor
    # documents it today (dashboard token only); "open" deletes with the key, as announced.
    delete_post_mode: DeletePostMode = "jwt_only"
    # What TTS answers for a v3.1 clone asked on the other pool's model: the vendor warns of wrong
    # or empty audio; "short" sends the short-WAV symptom, "garbage" full-length noise, not speech.
    wrong_pool_answer: WrongPoolAnswer = "short"
    clone_quota: int = 1000
    # The 400 text of a create over `clone_quota` (`{quota}` is filled in): the vendor's by
    # default; an emulator-only knob to send an older wording (OLDER_QUOTA_TEXTS) or any other.
    quota_text: str = QUOTA_TEXT
    # Analytics timestamps: None writes UTC with `Z`; a number of hours writes the server's
    # local time that far ahead of UTC (negative: behind), without a zone, as "YYYY-MM-DD HH:MM:SS".
    log_zone_hours: float | None = None
    pending_s: float = 0.5
    processing_s: float = 1.0
    new_clone_fail_rate: float = 0.0
    # Creates whose clone speaks as another person (the stock speaker furthest in pitch from
    # the upload): a server-side mix-up of samples, which the live API's 200 would not reveal.
    wrong_speaker: Fault = OFF
    traffic_days: float = 0.0
    tts_trickle: Fault = OFF
    trickle_bytes_per_s: float = 1.0
    tts_gzip_bomb: Fault = OFF
    gzip_bomb_bytes: int = 1 << 30
    tts_endless: Fault = OFF
    tts_json: Fault = OFF
    tts_html: Fault = OFF
    tts_empty: Fault = OFF
    list_truncated: Fault = OFF
    list_garbage: Fault = OFF
    list_wrong_shape: Fault = OFF
    wrong_shape_every: int = 5
    list_huge: Fault = OFF
    huge_list_bytes: int = 48 << 20
    analytics_ignores_page: bool = False
    agent_count: int = 24
    agents_scan_s: float = 0.0
    agents_scan_fail: Fault = OFF
    agents_draft_conflict: Fault = OFF
    agents_check_voice_ids: bool = False
    agent_call_every_s: float = 0.0
    agents_page_loop: Fault = OFF
    agents_truncated: Fault = OFF
    agents_garbage: Fault = OFF
    agents_wrong_shape: Fault = OFF
    agents_huge: Fault = OFF
    seed: int = 0

    def __post_init__(self) -> None:
        rates = {
            "fault_5xx_rate": self.fault_5xx_rate,
            "create_timeout_rate": self.create_timeout_rate,
            "clone_error_rate": self.clone_error_rate,
            "drop_rate": self.drop_rate,
            "slow_rate": self.slow_rate,
            "new_clone_fail_rate": self.new_clone_fail_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if self.tts_concurrency < 1:
            raise ValueError("tts_concurrency must be at least 1")
        if "tts" not in self.limit_counts or not set(self.limit_counts) <= {"tts", "list", "create"}:
            raise ValueError(f"limit_counts must hold 'tts' and may add 'list', 'create'; got {self.limit_counts!r}")
        if self.delete_mode not in ("gone", "ok"):
            raise ValueError(f"delete_mode must be 'gone' or 'ok', got {self.delete_mode!r}")
        if self.delete_post_mode not in ("jwt_only", "open"):
            raise ValueError(f"delete_post_mode must be 'jwt_only' or 'open', got {self.delete_post_mode!r}")
        if self.wrong_pool_answer not in ("short", "garbage"):
            raise ValueError(f"wrong_pool_answer must be 'short' or 'garbage', got {self.wrong_pool_answer!r}")
        if any(v < 0 for v in (self.slow_s, self.pending_s, self.processing_s, self.tts_429_every, self.list_lag_s,
                          self.traffic_days, self.agents_scan_s, self.agent_call_every_s, self.agent_count)):
            raise ValueError("durations, counts and tts_429_every must not be negative")
        for name in (*TTS_FAULTS, *LIST_FAULTS, *AGENT_LIST_FAULTS, "wrong_speaker", "agents_scan_fail",
                     "agents_draft_conflict"):
            if not isinstance(getattr(self, name), Fault):
                raise ValueError(f"{name} must be a Fault, e.g. Fault(every=3) or Fault(rate=0.2)")
        if self.log_zone_hours is not None and not -12 <= self.log_zone_hours <= 14:
            raise ValueError(f"log_zone_hours must be within [-12, 14] (UTC-12 to UTC+14), got {self.log_zone_hours}")
        if not self.trickle_bytes_per_s > 0:
            raise ValueError(f"trickle_bytes_per_s must be greater than 0, got {self.trickle_bytes_per_s}")
        sizes = {"gzip_bomb_bytes": self.gzip_bomb_bytes, "huge_list_bytes": self.huge_list_bytes,
                 "wrong_shape_every": self.wrong_shape_every}
        for name, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {size!r}")

    def latency_of(self, kind: RouteKind) -> float:
        return float(self.latency.get(kind, 0.0))
