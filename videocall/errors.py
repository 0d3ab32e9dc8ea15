"""Domain errors. Each carries a stable machine-readable ``code``; the edges (HTTP, Socket.IO)
translate them once, in one place, into a 4xx response or an error event.

    VideoCallError
    ├── ValidationError(field=...)   invalid input            -> 422
    ├── NotFound                     no such thing / not yours -> 404
    ├── NotAllowed                   role or ownership        -> 403
    ├── Unauthenticated              missing / bad credential -> 401
    ├── Conflict                     duplicate or wrong state -> 409
    │   └── InvalidTransition
    ├── TooLarge                     body or upload too big   -> 413
    ├── RateLimited(retry_after)     abuse limits             -> 429
    └── Unavailable                  outside service hours... -> 503
"""

from __future__ import annotations


class VideoCallError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ValidationError(VideoCallError):
    code = "validation_error"
    status = 422


class NotFound(VideoCallError):
    code = "not_found"
    status = 404


class NotAllowed(VideoCallError):
    code = "forbidden"
    status = 403


class Unauthenticated(VideoCallError):
    code = "unauthenticated"
    status = 401


class Conflict(VideoCallError):
    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"


class TooLarge(VideoCallError):
    code = "too_large"
    status = 413


class RateLimited(VideoCallError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unavailable(VideoCallError):
    code = "unavailable"
    status = 503
