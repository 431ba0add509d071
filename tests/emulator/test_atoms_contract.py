"""The vendor's Atoms OpenAPI file, run by schemathesis against the emulator's agent routes.

The operations are exactly those the tool's `cutover --agents` calls: list and get agents,
list and get branches, read and write a branch's draft, publish it, list and read revisions,
restore one. Positive cases must get answers the spec describes (half of them aimed at the
seeded agents' real ids, so the answers are real pages, configs, drafts and commits, not only
refusals of unknown ids); negative cases must be refused with a 4xx the spec describes. The
file is read at test time from beside the repository (`../shared/vendor/`, or the folder
`CLONE_AUDIT_VENDOR_DIR` names), never copied into the project.

One deviation is allowed, exactly: the draft write's 409 is a `oneOf` of three bodies that
overlap (every `DraftConflictError` is also a `ConflictErrorResponse`, and neither needs an
`error_type`), so no body can match exactly one; it is read as `anyOf`.
"""

from __future__ import annotations

import copy
import itertools
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
SPEC = "atoms-openapi.yaml"
BRANCH = "/agent/{id}/branches/{branchId}"
OPERATIONS_USED = [
    ("GET", "/agent"), ("GET", "/agent/{id}"), ("GET", "/agent/{id}/branches"), ("GET", BRANCH),
    ("GET", BRANCH + "/draft"), ("PUT", BRANCH + "/draft"), ("DELETE", BRANCH + "/draft"),
    ("POST", BRANCH + "/draft/publish"),
    ("GET", BRANCH + "/revisions"), ("GET", BRANCH + "/revisions/{revisionId}"),
    ("POST", BRANCH + "/revisions/{revisionId}/restore"),
]  # fmt: skip
EXAMPLES = 12

if not (VENDOR / SPEC).is_file():
    pytest.skip(f"the vendor's published sources are not beside the repository ({VENDOR}): "
                "set CLONE_AUDIT_VENDOR_DIR to their folder", allow_module_level=True)


def _with_known_deviations(raw: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(raw)
    conflict = spec["paths"][BRANCH + "/draft"]["put"]["responses"]["409"]["content"]["application/json"]["schema"]
    conflict["anyOf"] = conflict.pop("oneOf")
    return spec


def _operations() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the file is large: the C parser when there is one
    raw = yaml.load((VENDOR / SPEC).read_text(encoding="utf-8"), Loader=loader)
    schema = schemathesis.openapi.from_dict(_with_known_deviations(raw))
    found = {(op.method.upper(), op.path): op for op in (r.ok() for r in schema.get_all_operations())
             if (op.method.upper(), op.path) in OPERATIONS_USED}
    missing = set(OPERATIONS_USED) - set(found)
    assert not missing, f"{SPEC} no longer documents {sorted(missing)}"
    return {f"{m} {p}": found[(m, p)] for m, p in OPERATIONS_USED}


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    clones = [c for c in generate_org(30, seed=5).clones if None not in c.fields.values()]
    with EmulatorServer(EmulatorState(EmulatorConfig(seed=5), clones)) as running:
        yield running


def _real_ids(server: EmulatorServer) -> Iterator[dict[str, str]]:
    """Path ids of the seeded agents, their branches and revisions, by turns, forever."""
    book = server.state.agents
    found = []
    for agent_id in book.ids():
        for summary in book.branches(agent_id):
            branch = summary["branch"]
            revisions, _ = book.revisions(agent_id, branch["_id"], 100, 0)
            for revision in revisions:
                found.append({"id": agent_id, "branchId": branch["_id"], "revisionId": revision["_id"]})
    return itertools.cycle(found)


def _run(server: EmulatorServer, route: str, mode: GenerationMode, checks: list[Any]) -> None:
    auth = {"Authorization": f"Bearer {server.api_key}"}
    real = _real_ids(server)
    flip = itertools.cycle([True, False])

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=OPERATIONS[route].as_strategy(generation_mode=mode, headers=auth))
    def check(case: Any) -> None:
        if mode == GenerationMode.POSITIVE and case.path_parameters and next(flip):
            ids = next(real)
            case.path_parameters = {k: ids[k] for k in case.path_parameters}
        response = case.call(base_url=server.base_url + "/atoms/v1", headers=auth, timeout=30)
        case.validate_response(response, checks=checks)

    check()


@pytest.mark.parametrize("route", OPERATIONS)
def test_valid_requests_get_answers_the_vendor_documents(server: EmulatorServer, route: str) -> None:
    _run(server, route, GenerationMode.POSITIVE,
         [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])


@pytest.mark.parametrize("route", [r for r in OPERATIONS if "{" in r or r == "GET /agent"])
def test_requests_the_vendor_forbids_are_refused_as_it_documents(server: EmulatorServer, route: str) -> None:
    _run(server, route, GenerationMode.NEGATIVE,
         [not_a_server_error, negative_data_rejection, content_type_conformance, response_schema_conformance])


@pytest.mark.parametrize("route", OPERATIONS)
def test_a_request_without_the_key_is_refused_as_the_vendor_documents(server: EmulatorServer, route: str) -> None:
    @settings(max_examples=2, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=OPERATIONS[route].as_strategy(generation_mode=GenerationMode.POSITIVE))
    def check(case: Any) -> None:
        response = case.call(base_url=server.base_url + "/atoms/v1", timeout=30)
        assert response.status_code == 401
        case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])

    check()
