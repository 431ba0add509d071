"""The emulator's Starlette application: routing, authentication, faults and the request log.

This module owns `create_app(state)` and everything that is not one endpoint's business:
- `Gatekeeper`, the outermost middleware: logs every request as `(method, path, status)`
  (status 0 for a dropped connection), answers 401 `{"error": "Unauthorized"}` to every
  route but health without the exact `Authorization: Bearer <api_key>`, and injects the
  configured faults into authenticated calls: dropped connections, 500s, slow answers.
- A dropped connection is real: the headers of a 200 promising a body go out, then the
  handler raises `ConnectionDropped`; uvicorn closes the socket and the client sees a
  transport error (httpx: `RemoteProtocolError`, incomplete body).
- The small routes: health, `DELETE /waves/v1/lightning-large` (410 or the documented 200),
  `POST /waves/v1/voice-cloning/delete` (401 to an API key, as the vendor documents it today,
  or open to the key: knob `delete_post_mode`),
  410 MODEL_DEPRECATED on every other `/waves/v1/lightning-large/*` and `/waves/v1/lightning-v2/*`
  route (the vendor's text), and the per-model `POST /waves/v1/lightning-v3.1/get_speech`,
  hidden from the vendor's reference but unchanged on the wire: the TTS route's answer on
  lightning_v3.1. Unknown routes answer JSON 404.
- The Atoms agent routes (`atoms.ATOMS_ROUTES`, under `/atoms/v1`), behind the same key; their
  401 and injected 500 carry the Atoms body `{"status": false, "errors": [...]}`.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audit.emulator.analytics import tts_logs
from audit.emulator.atoms import ATOMS_ROUTES
from audit.emulator.cloning import create_clone, list_clones
from audit.emulator.state import EmulatorState
from audit.emulator.tts import per_model_speech, tts

HEALTH_PATH = "/waves/v1/health"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: The vendor's answer on the retired legacy routes (its changelog of 2026-05-19).
DEPRECATED = {
    "status": "error",
    "error_code": "MODEL_DEPRECATED",
    "message": "This model is retired. Please migrate to lightning-v3.1 via /waves/v1/lightning-v3.1/get_speech.",
    "recommended_endpoint": "/waves/v1/lightning-v3.1/get_speech",
}


class ConnectionDropped(Exception):
    """Raised after a response has started, so that uvicorn closes the connection."""


class Gatekeeper:
    """Request log, authentication and fault injection, in front of every route."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        logged = False

        async def logged_send(message: Message) -> None:
            nonlocal logged
            if message["type"] == "http.response.start" and not logged:
                logged = True  # before the client can see the answer, so tests never race it
                self.state.record(method, path, message["status"])
            await send(message)

        try:
            await self._admit(scope, receive, send, logged_send)
        except ClientDisconnect:
            pass  # the client went away mid-request (killed, timed out): nobody to answer
        finally:
            if not logged:
                self.state.record(method, path, 0)

    async def _admit(self, scope: Scope, receive: Receive, raw_send: Send, send: Send) -> None:
        if scope["path"] == HEALTH_PATH:
            await self.app(scope, receive, send)
            return
        atoms = scope["path"].startswith("/atoms/")  # the Atoms API words its errors its own way
        if not self._authorized(Request(scope)):
            body: dict[str, Any] = {"status": False, "errors": ["Unauthorized"]} if atoms else {"error": "Unauthorized"}
            await JSONResponse(body, status_code=401)(scope, receive, send)
            return
        config = self.state.config
        if self.state.chance(config.drop_rate):
            await raw_send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
            raise ConnectionDropped(scope["path"])
        if self.state.chance(config.fault_5xx_rate):
            failed = {"status": False, "errors": ["Internal server error"]} if atoms else {"error": "Internal server error"}
            await JSONResponse(failed, status_code=500)(scope, receive, send)
            return
        if self.state.chance(config.slow_rate):
            await self.state.clock.sleep(config.slow_s)
        await self.app(scope, receive, send)

    def _authorized(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(key.strip(), self.state.config.api_key)


async def health(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    await state.delay("health")
    connected = {"status": "connected"}
    return JSONResponse({"status": "ok", "mongo": connected, "redis": connected, "rabbitmq": connected})


async def delete_clone(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    await state.delay("delete")
    if state.config.delete_mode == "gone":
        return JSONResponse(DEPRECATED, status_code=410)
    return await _delete(request, state)


async def delete_clone_post(request: Request) -> Response:
    """The announced API-key delete: today it takes a dashboard token only, so an API key gets 401."""
    state: EmulatorState = request.app.state.emulator
    await state.delay("delete")
    if state.config.delete_post_mode == "jwt_only":
        return JSONResponse({"error": "Unauthorized"}, status_code=401)
    return await _delete(request, state)


async def _delete(request: Request, state: EmulatorState) -> Response:
    voice_id = _json_field(await request.body(), "voiceId")
    if not voice_id:
        return JSONResponse({"error": "Voice ID required"}, status_code=400)
    if not state.remove_clone(voice_id):
        return JSONResponse({"error": "Voice not found"}, status_code=404)
    return JSONResponse({"success": True, "voiceId": voice_id})


def _json_field(raw: bytes, name: str) -> str | None:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


async def deprecated(request: Request) -> Response:
    return JSONResponse(DEPRECATED, status_code=410)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not found" if exc.status_code == 404 else exc.detail
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


def create_app(state: EmulatorState) -> Starlette:
    """The Waves API as `state` describes it, as an ASGI application."""
    routes = [
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route("/waves/v1/voice-cloning", list_clones, methods=["GET"]),
        Route("/waves/v1/voice-cloning", create_clone, methods=["POST"]),
        Route("/waves/v1/voice-cloning/delete", delete_clone_post, methods=["POST"]),
        Route("/waves/v1/tts", tts, methods=["POST"]),
        Route("/waves/v1/analytics/tts/logs", tts_logs, methods=["GET"]),
        Route("/waves/v1/lightning-large", delete_clone, methods=["DELETE"]),
        Route("/waves/v1/lightning-large", deprecated, methods=ALL_METHODS),
        Route("/waves/v1/lightning-large/{rest:path}", deprecated, methods=ALL_METHODS),
        Route("/waves/v1/lightning-v2", deprecated, methods=ALL_METHODS),
        Route("/waves/v1/lightning-v2/{rest:path}", deprecated, methods=ALL_METHODS),
        Route("/waves/v1/lightning-v3.1/get_speech", per_model_speech, methods=["POST"]),
        *ATOMS_ROUTES,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Gatekeeper, state=state)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.emulator = state
    return app
