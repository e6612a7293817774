from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from supportintel import logcontext
from supportintel.errors import TOO_LARGE_MESSAGE, envelope

# An incoming id is reused only if it is short and plain, so it can go into logs and headers safely.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (`X-Request-Id`, reused from the client when sane) and echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex  # type: ignore[attr-defined]
        with logcontext.bound(request_id=request.request_id, request=request):  # type: ignore[attr-defined]
            response = self.get_response(request)
        response["X-Request-Id"] = request.request_id  # type: ignore[attr-defined]
        return response


# Unread bodies are discarded in pieces of this size, so a refused upload never sits in memory whole.
_DISCARD_CHUNK = 64 * 1024
# Past this many times MAX_REQUEST_BYTES, a refused body is not read to its end (the server may reset it).
_DISCARD_FACTOR = 4


class RequestSizeLimitMiddleware:
    """Refuse a body over MAX_REQUEST_BYTES from its Content-Length, before anything reads it, with a 413
    (the error envelope under /api/) that the client actually receives.

    A server that answers while the client is still sending, then closes the socket with the body unread,
    makes the client's kernel see a reset, and the client reports an aborted connection instead of the
    answer. So the body is read and thrown away first, in small pieces (Django's development server would
    otherwise read all that is left in one piece after answering), unless it is absurdly large."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is None or declared <= limit:
            return self.get_response(request)
        if declared <= limit * _DISCARD_FACTOR:
            while request.read(_DISCARD_CHUNK):
                pass
        response: HttpResponse
        if request.path.startswith("/api/"):
            body = envelope("request_too_large", TOO_LARGE_MESSAGE, {}, getattr(request, "request_id", ""))
            response = JsonResponse(body, status=413)
        else:
            response = HttpResponse("The request is larger than the server accepts.\n", status=413)
            response["Content-Type"] = "text/plain; charset=utf-8"
        # Set here: CommonMiddleware, further in, never sees this response. Without it the development
        # server closes the connection after answering.
        response["Content-Length"] = str(len(response.content))
        return response
