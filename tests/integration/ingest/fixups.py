"""A payload rewrite hook for the dead-letter replay test (``--rewrite``)."""

from __future__ import annotations


def single_to_double_quotes(payload: bytes) -> bytes:
    """Fix a sender that wrote Python dict syntax instead of JSON."""
    return payload.replace(b"'", b'"')
