"""Property-based tests of the API from its own OpenAPI schema (schemathesis, in process through WSGI).

Whatever a client sends, schema-valid or not, the API answers with a documented status code, in the
shape its schema promises (the error envelope included), and never with a 500 (SPEC §11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from conftest import AGENT_PERMISSIONS
from tickets.tests.factories import TicketFactory, UserFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def token(db: None) -> Iterator[str]:
    from rest_framework.authtoken.models import Token

    # As Django's test client does: the WSGI handler must not close the test's database connection.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    user = UserFactory.create(username="fuzzer", permissions=AGENT_PERMISSIONS)
    TicketFactory.create(classified=True)  # so lists have rows and detail routes find one now and then
    TicketFactory.create(failed=True)
    yield Token.objects.create(user=user).key
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_its_schema_and_never_fails(case: Any, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
