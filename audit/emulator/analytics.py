"""The emulated `GET /waves/v1/analytics/tts/logs` (docs/api-contract.md §analytics).

This module owns the analytics route: the account's TTS calls (real calls answered by
the emulator's TTS route, and any generated or seeded history), newest first, paged by
`page` (from 1) and `pageSize` (1 to 100), answered as `{"status": "success", "data":
[{"timestamp", "request_type", "model", "voice_id", "language", "text_len", "credits"}],
"page", "pageSize", "totalCount", "totalPages"}`. A bad page or page size is a 400 with
the API's validation-issue array. `EmulatorConfig.analytics_ignores_page` answers page 1 to
every page.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audit.emulator.state import EmulatorState
from audit.emulator.traffic import TtsLogRecord

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10


def _entry(record: TtsLogRecord) -> dict[str, Any]:
    moment = datetime.fromtimestamp(record.at, UTC)
    return {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "request_type": "tts",
        "model": record.model,
        "voice_id": record.voice_id,
        "language": record.language,
        "text_len": record.text_len,
        "credits": record.text_len,
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
        "data": [_entry(r) for r in newest_first],
        "page": page,
        "pageSize": size,
        "totalCount": len(log),
        "totalPages": math.ceil(len(log) / size),
    })
