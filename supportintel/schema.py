"""What the OpenAPI schema says beyond what drf-spectacular infers: the one error envelope on every
operation, and viewsets whose `list` answers a single object (the breaker)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

ERROR_COMPONENT = "Error"


class SingleObjectSchema(AutoSchema):
    """For a viewset whose `list` route answers one object, not a page of them."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


# Status codes every operation may answer, with the envelope; more by method and path below.
_ALWAYS = {
    "401": "Not authenticated (no or a bad token or session).",
    "403": "Authenticated, but without the permission this needs.",
    "429": "Too many requests for this user; retry after the Retry-After header's seconds.",
}
_WITH_BODY = {
    "400": "Invalid request; `details` names each field and why.",
    "413": "The request body is larger than MAX_REQUEST_BYTES; nothing was stored.",
}
_WITH_ID = {"404": "No such object, or not visible to this user."}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the error envelope on every API operation (the
    codes every operation may answer, and any error code a view declares with a description only)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(ERROR_COMPONENT, _error_schema())
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            codes = dict(_ALWAYS)
            if method in {"post", "put", "patch"}:
                codes.update(_WITH_BODY)
            elif any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
                codes["400"] = "A query parameter is not valid (a filter's value, the cursor)."
            if "{" in path:
                codes.update(_WITH_ID)
            responses = operation.setdefault("responses", {})
            for code, description in codes.items():
                responses.setdefault(code, _error_response(description))
            for code, response in responses.items():
                # An error a view declares with only a description (409 on retry) gets the envelope too.
                if code >= "400" and "content" not in response:
                    response.update(_error_response(response.get("description", "")))
    return result


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every non-2xx answer of the API.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details", "request_id"],
                "properties": {
                    "code": {"type": "string", "example": "invalid"},
                    "message": {"type": "string"},
                    "details": {"nullable": True, "description": "Per-field messages for invalid requests."},
                    "request_id": {"type": "string", "description": "Also in the X-Request-Id header."},
                },
            }
        },
    }
