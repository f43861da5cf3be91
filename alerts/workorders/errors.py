"""Why a work-order operation was refused, as a reason code the API maps to an HTTP status."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Reason codes of refused operations."""

    NOT_FOUND = "not_found"
    ILLEGAL_TRANSITION = "illegal_transition"
    NO_TECHNICIAN = "no_technician"
    INVALID = "invalid"

    @property
    def http_status(self) -> int:
        """The HTTP status the API and the console answer a refusal of this kind with."""
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ILLEGAL_TRANSITION: 409,
    ErrorCode.NO_TECHNICIAN: 409,
    ErrorCode.INVALID: 422,
}


class WorkOrderError(Exception):
    """A refused operation: the code says which kind, the detail says what to do about it."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
