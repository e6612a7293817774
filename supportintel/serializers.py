"""Serializer pieces shared by the apps' APIs."""

from __future__ import annotations

import copy
import threading
from typing import Any

from rest_framework.fields import Field
from rest_framework.serializers import BaseSerializer

_built: dict[type, dict[str, Field[Any, Any, Any, Any]]] = {}
_lock = threading.Lock()


def _clone(field: Field[Any, Any, Any, Any]) -> Field[Any, Any, Any, Any]:
    # copy.copy, without its generic __reduce_ex__ path (five times slower for these objects).
    clone = field.__class__.__new__(field.__class__)
    clone.__dict__.update(field.__dict__)
    return clone


class BuiltOnceFieldsMixin:
    """DRF builds a ModelSerializer's fields anew for every serializer it makes, by introspecting the model:
    0.6 to 1.5 ms for a ticket's fields, on every request (profiled), more than the INSERT. Here they are
    built once per class and each serializer gets copies of its own, which DRF then binds to it: shallow
    copies of plain fields (their options are only read), deep copies of nested serializers (they hold
    bindings of their own). Only for serializers whose fields depend on nothing but their class: no
    fields chosen from the request, the context or the database."""

    def get_fields(self) -> dict[str, Field[Any, Any, Any, Any]]:
        cls = type(self)
        built = _built.get(cls)
        if built is None:
            with _lock:
                built = _built.setdefault(cls, super().get_fields())  # type: ignore[misc]
        return {
            name: copy.deepcopy(field) if isinstance(field, BaseSerializer) else _clone(field)
            for name, field in built.items()
        }
