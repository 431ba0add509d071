"""The vendor's own OpenAPI files, run by schemathesis against the emulator over real HTTP.

The emulator is our picture of the Waves API; this test holds the picture to what the vendor
publishes (its OpenAPI files beside the repository, in `../shared/vendor/`, or the folder
`CLONE_AUDIT_VENDOR_DIR` names), for every route the tool uses: list and create clones, TTS,
the TTS analytics log, health. Positive cases (valid requests) must get answers the spec
describes; negative cases (requests the spec forbids) must be refused with a 4xx the spec
describes, never a 5xx. The files are read at test time and never copied into the project.

One deviation is allowed, exactly: TTS 400 bodies carry `error` as a list of validation
issues (`[{"code", "path", "message"}]`), as the vendor's own live probes recorded, where
the spec says a string (docs/api-contract.md names it and its source).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.emulator import EmulatorConfig, EmulatorServer
from audit.emulator.org import generate_org
from audit.emulator.state import EmulatorState

schemathesis = pytest.importorskip("schemathesis")
yaml = pytest.importorskip("yaml")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(os.environ.get("CLONE_AUDIT_VENDOR_DIR") or ROOT.parent / "shared" / "vendor")
#: The routes the tool calls, by the vendor file that documents them.
ROUTES = {
    "voice-cloning-openapi.yaml": [("GET", "/waves/v1/voice-cloning"), ("POST", "/waves/v1/voice-cloning")],
    "tts-openapi.yaml": [("POST", "/waves/v1/tts")],
    "waves-analytics-openapi.yaml": [("GET", "/waves/v1/analytics/tts/logs"), ("GET", "/waves/v1/health")],
}
#: Examples per route and mode: enough to cover each parameter's kinds of value, quick enough
#: for the suite (the whole module runs in well under a minute).
EXAMPLES = 15
#: What the vendor's live probes show TTS 400 bodies carry in `error`: validation issues.
ISSUE_LIST = {"type": "array", "items": {"type": "object", "required": ["message"],
                                         "properties": {"message": {"type": "string"},
                                                        "path": {"type": "array"}, "code": {"type": "string"}}}}

if not VENDOR.is_dir():
    pytest.skip(f"the vendor's published sources are not beside the repository ({VENDOR}): "
                "set CLONE_AUDIT_VENDOR_DIR to their folder", allow_module_level=True)


def _with_known_deviations(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The vendor's spec, with exactly the deviations its own live probes recorded allowed."""
    spec = copy.deepcopy(raw)
    if name == "tts-openapi.yaml":
        error = spec["components"]["schemas"]["TtsError"]["properties"]["error"]
        spec["components"]["schemas"]["TtsError"]["properties"]["error"] = {"anyOf": [error, ISSUE_LIST]}
    return spec


def _operations() -> Iterator[tuple[str, Any]]:
    for name, routes in ROUTES.items():
        raw = yaml.safe_load((VENDOR / name).read_text(encoding="utf-8"))
        schema = schemathesis.openapi.from_dict(_with_known_deviations(name, raw))
        found = {(op.method.upper(), op.path): op for op in (r.ok() for r in schema.get_all_operations())}
        for route in routes:
            assert route in found, f"{name} no longer documents {route}"
            yield f"{route[0]} {route[1]}", found[route]


OPERATIONS = dict(_operations())
#: Routes without a parameter or a body: no request to them can break the spec.
TAKE_NOTHING = ("GET /waves/v1/voice-cloning", "GET /waves/v1/health")


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """A generated organisation without its deliberately odd records (a null where the vendor
    documents a string or a list): those are test data for the tool's tolerance, not the contract."""
    clones = [c for c in generate_org(40, seed=5).clones if None not in c.fields.values()]
    with EmulatorServer(EmulatorState(EmulatorConfig(seed=5, traffic_days=2), clones)) as running:
        yield running


def _run(server: EmulatorServer, operation: Any, mode: GenerationMode, checks: list[Any]) -> None:
    auth = {"Authorization": f"Bearer {server.api_key}"}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
    def check(case: Any) -> None:
        response = case.call(base_url=server.base_url, headers=auth, timeout=30)
        case.validate_response(response, checks=checks)

    check()


@pytest.mark.parametrize("route", OPERATIONS)
def test_valid_requests_get_answers_the_vendor_documents(server: EmulatorServer, route: str) -> None:
    _run(server, OPERATIONS[route], GenerationMode.POSITIVE,
         [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])


@pytest.mark.parametrize("route", [r for r in OPERATIONS if r not in TAKE_NOTHING])
def test_requests_the_vendor_forbids_are_refused_as_it_documents(server: EmulatorServer, route: str) -> None:
    _run(server, OPERATIONS[route], GenerationMode.NEGATIVE,
         [not_a_server_error, negative_data_rejection, content_type_conformance, response_schema_conformance])


@pytest.mark.parametrize("route", [r for r in OPERATIONS if r != "GET /waves/v1/health"])
def test_a_request_without_the_key_is_refused_as_the_vendor_documents(server: EmulatorServer, route: str) -> None:
    @settings(max_examples=3, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=OPERATIONS[route].as_strategy(generation_mode=GenerationMode.POSITIVE))
    def check(case: Any) -> None:
        response = case.call(base_url=server.base_url, timeout=30)
        assert response.status_code == 401
        case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])

    check()
