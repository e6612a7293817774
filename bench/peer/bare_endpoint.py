"""The product's WSGI application with two more endpoints beside the API: bare DRF views that insert one
row and answer its id, the floor `make bench-pipeline` compares `POST /api/v1/tickets/` with.

They run on the same gunicorn server, behind the same middleware, with the API's own DRF settings
(token authentication, the per-user throttle) and IsAuthenticated; no serializer, no service, no
broker, no permission check:

- `/bench/bare/` saves a ticket row through the ORM (`Ticket.objects.create`), the same row with the
  same indexes as the API's, and never publishes it: what a minimal DRF endpoint over this table costs;
- `/bench/bare-narrow/` inserts into a table of three columns and no index but its key, in plain SQL
  (`bench_bare_row`, made by the benchmark): the request's floor on this server.

This module sits outside the `bench` package so the old code's checkout can serve it too (the benchmark
puts this folder on PYTHONPATH).
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import include, path  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from tickets.models import Ticket  # noqa: E402

TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_bare_row (id bigserial PRIMARY KEY, subject text, body text, created timestamptz)"
)


class BareTicket(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        data: Any = request.data
        ticket = Ticket.objects.create(subject=str(data.get("subject", "")), body=str(data.get("body", "")))
        return Response({"id": ticket.pk}, status=201)


class BareInsert(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        data: Any = request.data
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_bare_row (subject, body, created) VALUES (%s, %s, now()) RETURNING id",
                [str(data.get("subject", "")), str(data.get("body", ""))],
            )
            row_id = cursor.fetchone()[0]
        return Response({"id": row_id}, status=201)


urlpatterns = [
    path("bench/bare/", BareTicket.as_view()),
    path("bench/bare-narrow/", BareInsert.as_view()),
    path("", include(settings.ROOT_URLCONF)),
]
# Read per request by Django's handler: from now on this module is the URLconf, the product's under it.
settings.ROOT_URLCONF = __name__
application = get_wsgi_application()
