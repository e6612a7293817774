from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

_Model = TypeVar("_Model", bound=Model)
_Row = TypeVar("_Row")


class TicketCursorPagination(CursorPagination):
    """Cursor pagination: no COUNT(*) and no OFFSET, so page 1,000 costs what page 1 costs at a million
    rows, and pages stay stable while new tickets stream in."""

    ordering = ("-created", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_position_message = "Invalid cursor: its position is not a value of the list's ordering."

    def paginate_queryset(
        self, queryset: QuerySet[_Model, _Row] | Sequence[_Row], request: Request, view: APIView | None = None
    ) -> list[_Row] | None:
        self._model: type[Model] | None = queryset.model if isinstance(queryset, QuerySet) else None
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a cursor it cannot read with 404; it is a bad query parameter, so 400 naming it.
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc
        if cursor is not None and cursor.position is not None:
            self._check_position(str(cursor.position))
        return cursor

    def _check_position(self, position: str) -> None:
        """A cursor is the client's to send back, so it may hold anything: its position must be a value
        of the first ordering field (a timestamp) that the database can compare, or it is a 400, not a
        500 from the query."""
        if self._model is None:
            return
        field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        if not isinstance(field, Field):
            return
        try:
            value = field.to_python(position)
            if getattr(value, "tzinfo", None) is not None:
                value.astimezone(UTC)  # years 1 and 9999 overflow once shifted to UTC
        except (DjangoValidationError, ValueError, OverflowError):
            raise ValidationError({self.cursor_query_param: [self.invalid_position_message]}) from None
