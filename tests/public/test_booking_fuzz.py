"""Schemathesis over the booking API (`/api/slots`, `/api/bookings`, its cancel): whatever is sent, no answer is a
500, every answer is one the schema lists with the body it describes, and nothing is booked from a body the schema
would refuse."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.web import served
from tests.helpers.web_public import PublicHall

BOOKING_PATHS = {"/api/slots", "/api/bookings", "/api/bookings/{code}/cancel"}
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def booking_schema(tmp_path_factory):
    # many requests from one address: the limit per address is tested in test_booking.py
    hall = PublicHall(tmp_path_factory.mktemp("booking-fuzz"), lookups_per_minute=100_000)
    try:
        with served(hall.app()) as url:
            yield schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    finally:
        hall.close()


@pytest.mark.parametrize("path", sorted(BOOKING_PATHS))
def test_the_booking_api_answers_as_its_schema_says(booking_schema, path):
    [operation] = [r.ok() for r in booking_schema.get_all_operations() if r.ok().path == path]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call(timeout=10)
        assert response.status_code < 500, (case.path, response.status_code, response.text[:200])
        case.validate_response(response, checks=CONFORMANCE)

    run()
