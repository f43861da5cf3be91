"""What a ``forewarn`` command's exit status means, the same for every command.

Scripts and ``make`` targets branch on these, so each number has one meaning everywhere; the
message on stderr (one line) says what to do.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit statuses of ``forewarn``."""

    OK = 0
    """Done; or the thing checked is healthy."""
    FAILED = 1
    """The thing checked failed or is unhealthy: a gate refused, a query is empty, a process is down."""
    USAGE = 2
    """A bad option, argument or setting: nothing was attempted; fix the command line or the variable."""
    UNREACHABLE = 3
    """A service (Kafka, MLflow, InfluxDB, a database) did not answer: start it or point its setting at it."""
