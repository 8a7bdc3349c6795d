"""Schemathesis over the console's OpenAPI (`/api/openapi.json`), with a session and without: no answer is a 500,
every answer matches the schema, and nothing but a 401 comes back without a session."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers.web import login, served

# the push stream never ends by itself: tests/web/test_live.py reads it
ENDLESS = "/api/events"


@pytest.fixture(scope="module")
def base_url(console_hall):
    with served(console_hall.app()) as url:
        yield url


@pytest.fixture(scope="module")
def cookie(base_url):
    with httpx.Client(base_url=base_url) as c:
        assert login(c, "root").status_code == 303
        return c.cookies["hall_session"]


@pytest.fixture(scope="module")
def api_schema(base_url):
    return schemathesis.openapi.from_url(f"{base_url}/api/openapi.json").exclude(path=ENDLESS)


def operations(api_schema) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in found} >= {"/api/live", "/api/alerts", "/api/devices", "/api/users"}
    return found


def fuzz(operation, check) -> None:
    """Hypothesis drives the operation's generated requests through `check` (schemathesis's pytest plugin is not
    used: it does not load under this pytest)."""
    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        check(case)

    run()


def test_the_schema_describes_the_api_and_not_the_pages(base_url):
    paths = set(httpx.get(f"{base_url}/api/openapi.json").json()["paths"])
    assert {"/api/live", "/api/events", "/api/alerts", "/api/devices", "/api/users"} <= paths
    assert all(p.startswith("/api/") for p in paths)


def test_with_a_session_nothing_fails_and_every_answer_matches_the_schema(api_schema, cookie):
    def check(case):
        response = case.call(cookies={"hall_session": cookie})
        assert response.status_code == 200, (case.path, response.status_code, response.text[:200])
        case.validate_response(response)

    for operation in operations(api_schema):
        fuzz(operation, check)


def test_without_a_session_only_401(api_schema):
    def check(case):
        response = case.call()
        assert response.status_code == 401, (case.path, response.status_code, response.text[:200])
        case.validate_response(response)
        assert response.json() == {"detail": "需要登录 login required"}

    for operation in operations(api_schema):
        fuzz(operation, check)
