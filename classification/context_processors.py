from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from classification.services import breaker_status
from classification.taxonomy import category_labels


def breaker(request: HttpRequest) -> dict[str, Any]:
    """The LLM breaker's state for the header of every dashboard page; read only if a template uses it."""
    return {"breaker": SimpleLazyObject(breaker_status)}


def taxonomy(request: HttpRequest) -> dict[str, Any]:
    """Category names by slug, so every page shows categories as the forms name them; read only if used."""
    return {"category_names": SimpleLazyObject(category_labels)}
