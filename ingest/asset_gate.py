"""The gateway's view of the asset register: an in-memory map on the hot path, the store behind it.

Per group of messages the gateway asks :meth:`AssetGate.screen`; a message names one asset (the
topic's; ``asset_mismatch`` already refused payloads naming another), so the check is one dict
lookup per message. Only assets missing from the map reach the store, all of a group in one round
trip: under ``register`` one transaction inserts every first sight (the primary key decides a race
between gateways; the loser's readings follow the winner's site), under ``dead_letter`` one query
looks for assets registered since the last reload (a simulator registers its fleet just before
publishing), and what is still absent is remembered until the next reload, so a sender inventing
ids costs the store one query per id per reload interval. The whole map is reloaded every
``assets_refresh_s`` (moves and removals made with the CLI or the API take effect then).

When the store does not answer, the group waits (:class:`RegisterUnavailableError`: the gateway holds
the messages unacknowledged, the broker's back-pressure does the rest) and the store is not asked
again before ``retry_s``: a reading is never forwarded without a verdict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from forewarn.contracts.dead_letter import DeadLetter, GatewayReason, Stage
from ingest.asset_store import AssetStore
from ingest.assets import FIRST_SIGHT, UnknownAssetPolicy, Verdict, first_sight, judge
from ingest.contract import Decoded

log = logging.getLogger(__name__)
MAX_ABSENT = 100_000
"""Remembered unregistered ids beyond this are forgotten (a sender inventing ids cannot grow memory)."""


class RegisterUnavailableError(RuntimeError):
    """The register's store did not answer: the messages must wait."""


def refuse(decoded: Decoded, reason: GatewayReason, detail: str, payload: bytes, topic: str,
           received_at: datetime) -> Decoded:  # fmt: skip
    """``decoded`` with every reading turned into a dead letter (one per element, with its index).

    Every element of an array became one reading or one dead letter, in order, so the readings sit
    at the indices no dead letter names.
    """
    if decoded.indexed:
        taken = {letter.index for letter in decoded.dead_letters}
        total = len(decoded.readings) + len(decoded.dead_letters)
        indices: list[int | None] = [i for i in range(total) if i not in taken]
    else:
        indices = [None] * len(decoded.readings)
    letters = [
        DeadLetter(Stage.GATEWAY, reason, (detail if i is None else f"element {i}: {detail}"), topic,
                   payload, received_at, i)
        for i in indices
    ]  # fmt: skip
    merged = sorted([*decoded.dead_letters, *letters], key=lambda d: -1 if d.index is None else d.index)
    return Decoded(readings=[], dead_letters=merged, stripped_sensors=decoded.stripped_sensors,
                   indexed=decoded.indexed)  # fmt: skip


class AssetGate:
    """The register as the gateway sees it.

    Args:
        store: the register's store.
        policy: what to do with unknown assets.
        refresh_s: how often the whole map is reloaded.
        retry_s: how long to leave a store that failed alone.
        monotonic: the interval clock (tests pass their own).
    """

    def __init__(
        self,
        store: AssetStore,
        policy: UnknownAssetPolicy,
        refresh_s: float,
        retry_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.policy = policy
        self.refresh_s = refresh_s
        self.retry_s = retry_s
        self.monotonic = monotonic
        self.owners: dict[str, str] = {}
        self.registered = 0  # first sights this gateway wrote (won or lost to a site that agreed)
        self._absent: set[str] = set()
        self._next_refresh = 0.0
        self._retry_at = 0.0

    def refresh(self, force: bool = False) -> None:
        """Reload the whole map when due (or ``force``); a failing store keeps the old map."""
        now = self.monotonic()
        if not force and now < self._next_refresh:
            return
        try:
            owners = self.store.owners()
        except SQLAlchemyError as exc:
            log.warning("asset register did not answer (%s): keeping %d known assets, retry in %.0f s",
                        _first_line(exc), len(self.owners), self.retry_s)  # fmt: skip
            self._next_refresh = now + self.retry_s
            return
        self.owners = owners
        self._absent.clear()
        self._next_refresh = now + self.refresh_s

    def screen(
        self, messages: Sequence[tuple[bytes, str]], decoded: list[Decoded], received_at: datetime
    ) -> list[Decoded]:
        """``decoded`` (one per message: payload, topic) with the readings the register refuses
        turned into dead letters: ``foreign_asset``, and ``unknown_asset`` under ``dead_letter``.

        Raises:
            RegisterUnavailableError: an unknown asset needed the store, and it did not answer.
        """
        owners = self.owners
        missing = [(d.readings[0].site, d.readings[0].asset_id) for d in decoded
                   if d.readings and d.readings[0].asset_id not in owners]  # fmt: skip
        if missing:
            self._resolve(missing, received_at)
        out = decoded
        for i, d in enumerate(decoded):
            if not d.readings:
                continue
            site, asset_id = d.readings[0].site, d.readings[0].asset_id
            verdict = judge(site, asset_id, owners)
            if verdict is Verdict.ACCEPT:
                continue
            if out is decoded:
                out = list(decoded)
            payload, topic = messages[i]
            if verdict is Verdict.FOREIGN:
                detail = f"asset {asset_id!r} is registered to site {owners[asset_id]!r}, not {site!r}"
                out[i] = refuse(d, GatewayReason.FOREIGN_ASSET, detail, payload, topic, received_at)
            else:
                detail = f"asset {asset_id!r} is not in the asset register"
                out[i] = refuse(d, GatewayReason.UNKNOWN_ASSET, detail, payload, topic, received_at)
        return out

    def _resolve(self, missing: list[tuple[str, str]], received_at: datetime) -> None:
        """Ask the store about the assets of ``missing`` (site, asset): one round trip."""
        if self.policy is UnknownAssetPolicy.DEAD_LETTER:
            ask = {asset_id for _, asset_id in missing} - self._absent
            if not ask:
                return
        if self.monotonic() < self._retry_at:
            raise RegisterUnavailableError("the asset register did not answer; waiting to retry")
        try:
            if self.policy is UnknownAssetPolicy.REGISTER:
                claims = first_sight(missing, self.owners)
                winners = self.store.claim(claims, received_at, FIRST_SIGHT)
                won = [a for a, site in winners.items() if claims.get(a) == site]
                self.registered += len(won)
                if won:
                    log.info("registered %d assets on first sight (e.g. %s → %s)",
                             len(won), won[0], winners[won[0]])  # fmt: skip
            else:
                winners = self.store.lookup(ask)
                if len(self._absent) > MAX_ABSENT:
                    self._absent.clear()
                self._absent |= ask - winners.keys()
        except SQLAlchemyError as exc:
            self._retry_at = self.monotonic() + self.retry_s
            log.warning("asset register did not answer (%s): holding messages, retry in %.0f s",
                        _first_line(exc), self.retry_s)  # fmt: skip
            raise RegisterUnavailableError(_first_line(exc)) from None
        self.owners.update(winners)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0][:200]
