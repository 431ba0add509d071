"""The emulated `GET /waves/v1/analytics/tts/logs` (docs/api-contract.md §analytics).

This module owns the analytics route: the account's TTS calls (real calls answered by
the emulator's TTS route, and any generated or seeded history), newest first, paged by
`page` (from 1) and `pageSize` (1 to 100, default 50), answered in the vendor's shape:
`{"status": "success", "data": [entry, ...], "page", "pageSize", "totalCount", "totalPages"}`,
each entry holding every documented field (`timestamp`, `request_type` "rest" | "ws", `model` in
the hyphen form `lightning-v3.1` / `lightning-v3.1-pro`, `voice_id`, `language`, `text` (cut),
`text_len`, `credits`, `speed`, `sample_rate`, `output_format`, `enhancement`, `similarity`,
`consistency`, `is_pvc`). Times are UTC with `Z`, or with `EmulatorConfig.log_zone_hours` the
server's local time without a zone (`"2026-08-07 08:17:20"`), that many hours ahead of UTC
(negative: behind). A bad page or page size is a 400 with the API's validation-issue array.
`EmulatorConfig.analytics_ignores_page` answers page 1 to every page.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audit.emulator.state import EmulatorState
from audit.emulator.traffic import TtsLogRecord

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


def log_time(at: float, zone_hours: float | None) -> str:
    """`at` as the log writes it: UTC with `Z`, or local time `zone_hours` from UTC with no zone."""
    if zone_hours is None:
        moment = datetime.fromtimestamp(at, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return (datetime.fromtimestamp(at, UTC) + timedelta(hours=zone_hours)).strftime("%Y-%m-%d %H:%M:%S")


def _entry(record: TtsLogRecord, zone_hours: float | None) -> dict[str, Any]:
    return {
        "timestamp": log_time(record.at, zone_hours),
        "request_type": record.request_type,
        "model": record.model.replace("_", "-"),  # the log names models in the hyphen form
        "voice_id": record.voice_id,
        "language": record.language or "",
        "text": record.text or "",
        "text_len": record.text_len,
        "credits": record.text_len,
        "speed": record.speed,
        "sample_rate": record.sample_rate,
        "output_format": record.output_format,
        "enhancement": 1,
        "similarity": 0,
        "consistency": None,
        "is_pvc": None,
    }


def _whole(raw: str | None, name: str, default: int, low: int, high: int | None) -> int | dict[str, Any]:
    """The query parameter as an int in [low, high], or the validation issue."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return {"code": "invalid_type", "path": [name], "message": "Expected number, received nan"}
    if value < low:
        return {"code": "too_small", "path": [name], "minimum": low,
                "message": f"Number must be greater than or equal to {low}"}
    if high is not None and value > high:
        return {"code": "too_big", "path": [name], "maximum": high,
                "message": f"Number must be less than or equal to {high}"}
    return value


async def tts_logs(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    await state.delay("analytics")
    page = _whole(request.query_params.get("page"), "page", 1, 1, None)
    size = _whole(request.query_params.get("pageSize"), "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    issues = [v for v in (page, size) if isinstance(v, dict)]
    if issues or not isinstance(page, int) or not isinstance(size, int):
        return JSONResponse({"error": issues}, status_code=400)
    log = state.tts_log()
    if state.config.analytics_ignores_page:
        page = 1
    newest_first = log[::-1][(page - 1) * size: page * size]
    return JSONResponse({
        "status": "success",
        "data": [_entry(r, state.config.log_zone_hours) for r in newest_first],
        "page": page,
        "pageSize": size,
        "totalCount": len(log),
        "totalPages": math.ceil(len(log) / size),
    })
