from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from classification.services import breaker_status


def breaker(request: HttpRequest) -> dict[str, Any]:
    """The LLM breaker's state for the header of every dashboard page; read only if a template uses it."""
    return {"breaker": SimpleLazyObject(breaker_status)}
