"""The one error envelope of the API: {"error": {"code", "message", "details", "request_id"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
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


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = envelope("server_error", "Something went wrong on our side.", {}, _request_id(request))
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
