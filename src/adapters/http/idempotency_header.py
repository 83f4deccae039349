"""The `Idempotency-Key` request header: read and checked by the routes that take it.

Declared to FastAPI as a header parameter, it cost a request about 7% of the API's
instructions (FastAPI resolves and validates every declared header through its dependency
machinery on each request). Read here instead, it is checked by the same constraints and
refused with the same 422 problem; the OpenAPI document declares it as before
(`OPENAPI_PARAMETER`, the routes' `openapi_extra`).
"""

from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.requests import Request

NAME = "Idempotency-Key"
_DESCRIPTION = (
    "Makes a retry safe: the same key with the same body gets the first response and places "
    "nothing more; with another body, 422; while the first request is still in flight, 409. "
    "Keys belong to the API key that sent them and expire after "
    "ORDERSTREAM_IDEMPOTENCY_RETENTION_S.")
_KEY = TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=255,
                                                    pattern=r"^[\x21-\x7e]+$")])

OPENAPI_PARAMETER: dict[str, Any] = {
    "name": NAME, "in": "header", "required": False, "description": _DESCRIPTION,
    "schema": {"anyOf": [_KEY.json_schema(), {"type": "null"}], "title": NAME,
               "description": _DESCRIPTION}}


def idempotency_key(request: Request) -> str | None:
    """The request's key, None without one; a 422 `RequestValidationError` for a key that
    breaks the constraints."""
    value = request.headers.get(NAME)
    if value is None:
        return None
    try:
        return _KEY.validate_python(value)
    except ValidationError as error:
        raise RequestValidationError([{**problem, "loc": ("header", NAME)}
                                      for problem in error.errors(include_url=False)]) from None
