"""The one error envelope of the API: {"error": {"code", "message", "details", "request_id"}}."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource is not in a state that allows this."
    default_code = "conflict"


_INVALID_MESSAGE = "The request is not valid; see details for each field."
TOO_LARGE_MESSAGE = "The request body is larger than the server accepts; send fewer tickets per request."


def _request_id(request: HttpRequest | None) -> str:
    return getattr(request, "request_id", "") if request is not None else ""


def envelope(code: str, message: str, details: Any, request_id: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}


def _message_for(exc: exceptions.APIException, details: Any) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return _INVALID_MESSAGE
    if isinstance(details, dict) and "detail" in details:
        return str(details["detail"])
    return str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, RequestDataTooBig):
        body = envelope("request_too_large", TOO_LARGE_MESSAGE, {}, _request_id(request))
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    details = response.data
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    if not isinstance(code, str):
        code = "error"
    if isinstance(details, dict) and set(details) == {"detail"}:
        details = {}
    response.data = envelope(code, _message_for(exc, response.data), details, _request_id(request))
    return response


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = envelope("not_found", "No such resource.", {}, _request_id(request))
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


# The dashboard's error page reloads itself this often while the database is unreachable.
RETRY_SECONDS = 10


def handler500(request: HttpRequest) -> HttpResponse:
    """The API answers its envelope; the dashboard a page that says what is wrong. When the database is
    what failed (down, restarting, unreachable), that page is a 503 that reloads itself every RETRY_SECONDS,
    so the agent's screen comes back on its own. The page reads nothing from the database."""
    error = sys.exc_info()[1]
    database_down = isinstance(error, DatabaseError)
    if request.path.startswith("/api/"):
        if database_down:
            body = envelope(
                "service_unavailable", "The database is unreachable; try again shortly.", {}, _request_id(request)
            )
            return JsonResponse(body, status=503, headers={"Retry-After": str(RETRY_SECONDS)})
        body = envelope("server_error", "Something went wrong on our side.", {}, _request_id(request))
        return JsonResponse(body, status=500)
    if database_down:
        context = {
            "title": "The database is unreachable",
            "message": "Support Intel cannot reach its database right now, so this page cannot show tickets.",
            "retry_seconds": RETRY_SECONDS,
        }
        status = 503
    else:
        context = {
            "title": "Something went wrong",
            "message": "This page failed on our side. It was logged.",
            "retry_seconds": 0,
        }
        status = 500
    html = loader.get_template("500.html").render({**context, "request_id": _request_id(request)})
    response = HttpResponse(html, status=status)
    if database_down:
        response["Retry-After"] = str(RETRY_SECONDS)
    return response
