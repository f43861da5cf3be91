"""Roles and the principal of a request: who acts, with which role, through which credential.

The role ladder is ordered: each role may do what the ones below it may (a dispatcher may do what a
technician may, and more). Which action needs which role is the one table :data:`NEEDS`, so the API,
the console and their tests read the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """What a user may do, from least to most."""

    VIEWER = "viewer"  # reads every page and list; acts on nothing
    TECHNICIAN = "technician"  # + starts and completes the work orders assigned to them
    DISPATCHER = "dispatcher"  # + acknowledges and snoozes alerts, runs every work-order action, stock
    ADMIN = "admin"  # + technicians, kits, users

    @property
    def rank(self) -> int:
        """0 for viewer up to 3 for admin."""
        return _ORDER.index(self)

    def at_least(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may."""
        return self.rank >= other.rank


_ORDER = (Role.VIEWER, Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN)


class Action(StrEnum):
    """Every action a user can take through the API or the console."""

    READ = "read"
    ACK_ALERT = "ack_alert"
    SNOOZE_ALERT = "snooze_alert"
    OPEN_WORK_ORDER = "open_work_order"
    APPROVE = "approve"
    ASSIGN = "assign"
    SCHEDULE = "schedule"
    START = "start"
    COMPLETE = "complete"
    CLOSE = "close"
    CANCEL = "cancel"
    SET_STOCK = "set_stock"
    MOVE_STOCK = "move_stock"  # receipts, issues, returns, transfers, stock takes (#17)
    SET_PART_POLICY = "set_part_policy"  # lead time and reorder point per part and site (#17)
    SET_KIT = "set_kit"
    ADD_TECHNICIAN = "add_technician"
    MANAGE_USERS = "manage_users"


NEEDS: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.ACK_ALERT: Role.DISPATCHER,
    Action.SNOOZE_ALERT: Role.DISPATCHER,
    Action.OPEN_WORK_ORDER: Role.DISPATCHER,
    Action.APPROVE: Role.DISPATCHER,
    Action.ASSIGN: Role.DISPATCHER,
    Action.SCHEDULE: Role.DISPATCHER,
    # A technician may start and complete only work orders assigned to them (checked per work order).
    Action.START: Role.TECHNICIAN,
    Action.COMPLETE: Role.TECHNICIAN,
    Action.CLOSE: Role.DISPATCHER,
    Action.CANCEL: Role.DISPATCHER,
    Action.SET_STOCK: Role.DISPATCHER,
    Action.MOVE_STOCK: Role.DISPATCHER,
    Action.SET_PART_POLICY: Role.ADMIN,
    Action.SET_KIT: Role.ADMIN,
    Action.ADD_TECHNICIAN: Role.ADMIN,
    Action.MANAGE_USERS: Role.ADMIN,
}

# Actions a technician may take only on a work order assigned to them (dispatchers and admins on any).
OWN_WORK_ONLY = frozenset({Action.START, Action.COMPLETE})


@dataclass(frozen=True)
class Principal:
    """The user behind a request, resolved from a per-user API token or a console session.

    ``actor`` is what audit rows, alert changes and work orders record as who did it: always the
    user's name from the identity, never a name from the request body.
    """

    user_id: int
    name: str
    role: Role
    technician_id: int | None  # the technician record of a technician user (their work orders)
    via: Literal["token", "session"]
    csrf_token: str | None = None  # sessions only: forms and htmx requests must echo it

    @property
    def actor(self) -> str:
        """The name recorded in audits and changes."""
        return self.name

    def may(self, action: Action, *, assigned_to: int | None = None) -> bool:
        """Whether this principal may take ``action`` (on a work order assigned to ``assigned_to``)."""
        if not self.role.at_least(NEEDS[action]):
            return False
        if action in OWN_WORK_ONLY and self.role is Role.TECHNICIAN:
            return self.technician_id is not None and assigned_to == self.technician_id
        return True
