from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class TicketCursorPagination(CursorPagination):
    """Cursor pagination: no COUNT(*) and no OFFSET, so page 1,000 costs what page 1 costs at a million
    rows, and pages stay stable while new tickets stream in."""

    ordering = ("-created", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Any:
        # DRF answers a cursor it cannot read with 404; it is a bad query parameter, so 400 naming it.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc
