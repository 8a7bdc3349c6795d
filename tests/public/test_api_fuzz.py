"""Schemathesis over the citizens' site's OpenAPI (`/api/openapi.json`): whatever a phone (or anyone) sends, no
answer is a 500, every answer matches the schema, and no request needs a login."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.rig import wait_for
from tests.helpers.web import served
from tests.helpers.web_public import PublicHall

REFUSED = {404, 409, 410, 422}
# what every answer must be; not "a valid request is accepted": a well-formed token is still not a ticket
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_hall(tmp_path_factory):
    # fuzzing is many requests from one address: the limit per address is tested in test_ticket_page.py
    hall = PublicHall(tmp_path_factory.mktemp("fuzz"), lookups_per_minute=100_000)
    yield hall
    hall.close()


@pytest.fixture(scope="module")
def base_url(fuzz_hall):
    with served(fuzz_hall.app()) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(base_url):
    return schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")


def operations(api_schema) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in found} >= {"/api/t/{token}", "/api/t/{token}/rating", "/api/t/{token}/events"}
    return found


def fuzz(operation, check, examples: int = 25) -> None:
    """Hypothesis drives the operation's generated requests through `check` (schemathesis's pytest plugin is not
    used: it does not load under this pytest)."""
    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        check(case)

    run()


def test_the_schema_describes_the_api_and_not_the_pages(base_url):
    paths = set(httpx.get(f"{base_url}/api/openapi.json").json()["paths"])
    assert paths and all(p.startswith("/api/") for p in paths)


def test_any_request_is_answered_without_a_500_and_as_the_schema_says(api_schema):
    def check(case):
        response = case.call(timeout=10)
        assert response.status_code < 500, (case.path, response.status_code, response.text[:200])
        case.validate_response(response, checks=CONFORMANCE)

    for operation in operations(api_schema):
        if operation.path == "/api/t/{token}/events":
            continue  # an endless stream when the token is good; a random token's refusal is checked below
        fuzz(operation, check)


def test_random_tokens_find_nothing(api_schema):
    def check(case):
        response = case.call(timeout=10)
        assert response.status_code in REFUSED, (case.path, response.status_code, response.text[:200])
        case.validate_response(response, checks=CONFORMANCE)

    for operation in operations(api_schema):
        if "{token}" in operation.path:  # /api/slots?queue=F is a real queue's slots, not a token's
            fuzz(operation, check, examples=15)


def test_ratings_of_a_real_ticket_are_refused_cleanly(api_schema, fuzz_hall, base_url):
    """The body fuzzed against a real token: a waiting ticket cannot be rated, a bad body is 422."""
    ticket = fuzz_hall.issue("A")
    wait_for(lambda: httpx.get(f"{base_url}/api/t/{ticket['follow']}").status_code == 200, 10, "the ticket's row")
    rating = next(op for op in operations(api_schema) if op.path == "/api/t/{token}/rating")

    def check(case):
        case.path_parameters = {"token": ticket["follow"]}
        response = case.call(timeout=10)
        assert response.status_code in (409, 422), (response.status_code, response.text[:200])
        case.validate_response(response, checks=CONFORMANCE)

    fuzz(rating, check)
    page = httpx.get(f"{base_url}/api/t/{ticket['follow']}").json()
    assert page["status"] == "waiting" and page["rating"]["score"] is None
