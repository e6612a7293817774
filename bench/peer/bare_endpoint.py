"""The product's WSGI application with one more endpoint beside the API: a bare DRF view that inserts one
row and answers its id, the floor `make bench-pipeline` compares `POST /api/v1/tickets/` with.

It runs on the same gunicorn server, behind the same middleware, with the API's own DRF settings
(token authentication, the per-user throttle) and IsAuthenticated; no serializer, no service, no
broker. Its table (`bench_bare_row`) is made by the benchmark. This module sits outside the `bench`
package so the old code's checkout can serve it too (the benchmark puts this folder on PYTHONPATH).
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

PATH = "/bench/bare/"
TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_bare_row (id bigserial PRIMARY KEY, subject text, body text, created timestamptz)"
)


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


urlpatterns = [path(PATH.strip("/") + "/", BareInsert.as_view()), path("", include(settings.ROOT_URLCONF))]
# Read per request by Django's handler: from now on this module is the URLconf, the product's under it.
settings.ROOT_URLCONF = __name__
application = get_wsgi_application()
