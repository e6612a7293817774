"""Request body parsers: DRF's, with JSON nested too deeply for Python's parser answered as a 400."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser turns a ValueError into a 400, but JSON nested deeper than the interpreter's
    recursion limit (`[[[[…`, a hundred thousand deep) raises RecursionError, which was a 500."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - arrays or objects are nested too deeply.") from None
