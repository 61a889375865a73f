"""The one error tree of Seam.

Every error a client can cause knows its HTTP status and the envelope code the SPEC names:

    SeamError
    ├── BadRequest (400)          invalid_json, invalid_message, invalid_id, missing_id, ...
    ├── Unauthorized (401)        missing_key, invalid_key, invalid_token
    ├── Forbidden (403)           insufficient_scope, forbidden_origin, secret_key_in_browser
    ├── NotFound (404)            not_found
    ├── Conflict (409)            visitor_bound_to_other_contact, ...
    ├── PayloadTooLarge (413)     payload_too_large
    ├── RateLimited (429)         rate_limited
    └── Unavailable (503)         unavailable
"""

from __future__ import annotations

from typing import Any, ClassVar


class SeamError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or []
        self.headers = headers or {}


class BadRequest(SeamError):
    status = 400
    default_code = "invalid_request"


class Unauthorized(SeamError):
    status = 401
    default_code = "invalid_key"


class Forbidden(SeamError):
    status = 403
    default_code = "insufficient_scope"


class NotFound(SeamError):
    status = 404
    default_code = "not_found"


class Conflict(SeamError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(SeamError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(SeamError):
    status = 429
    default_code = "rate_limited"


class Unavailable(SeamError):
    status = 503
    default_code = "unavailable"
