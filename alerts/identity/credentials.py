"""The credentials file: generated passwords kept where only their owner can read them (mode 600).

One line per user, ``name<TAB>role<TAB>password``, appended as users are created (a later line for the
same name wins: a new password). The file is created mode 600 with ``os.open`` so there is no moment
at which another user could read it (an existing file is narrowed to 600); reading refuses a file
that others can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

HEADER = "# forewarn users: name, role, generated password (keep this file mode 600)\n"


class CredentialsFileError(Exception):
    """The file is readable by others, or malformed."""


def append_credentials(path: Path, name: str, role: str, password: str) -> None:
    """Append one user's generated password (creating the file mode 600 with its header)."""
    if any(c in value for value in (name, role, password) for c in "\t\n\r"):
        raise CredentialsFileError("names, roles and passwords may not contain tabs or line breaks")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if os.fstat(fd).st_size == 0:
            os.write(fd, HEADER.encode())
        os.write(fd, f"{name}\t{role}\t{password}\n".encode())
    finally:
        os.close(fd)


def read_credentials(path: Path) -> dict[str, str]:
    """Passwords by user name (the last line of a name wins)."""
    _check_private(path)
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise CredentialsFileError(f"{path}:{number}: expected name, role and password separated by tabs")
        found[fields[0]] = fields[2]
    return found


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CredentialsFileError(f"{path} is mode {mode:o}: others can read it; chmod 600 it")
