"""Why a work-order operation was refused, as a reason code the API maps to an HTTP status."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Reason codes of refused operations."""

    NOT_FOUND = "not_found"
    ILLEGAL_TRANSITION = "illegal_transition"
    NO_TECHNICIAN = "no_technician"
    INVALID = "invalid"


class WorkOrderError(Exception):
    """A refused operation: the code says which kind, the detail says what to do about it."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
