"""The per-worker champion cache: one load per version, alias re-resolved on its interval."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming import scoring
from streaming.scoring import ModelRef, champion


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    scoring._CACHE.clear()
    yield
    scoring._CACHE.clear()


REF = ModelRef("http://registry", "http://registry", "forewarn-rul", "champion", refresh_s=30.0)


class Registry:
    """The alias and what loading costs, as the cache sees them."""

    def __init__(self) -> None:
        self.version = "1"
        self.up = True
        self.resolves = 0
        self.loads: list[str] = []

    def resolve(self, ref: ModelRef) -> str:
        self.resolves += 1
        if not self.up:
            raise ConnectionError("registry down")
        return self.version

    def load(self, ref: ModelRef, version: str) -> str:
        self.loads.append(version)
        return f"model-v{version}"


def test_loads_once_and_picks_up_a_new_champion_after_the_interval() -> None:
    registry, now = Registry(), [0.0]
    get = lambda: champion(REF, clock=lambda: now[0], resolve=registry.resolve, load=registry.load)  # noqa: E731
    assert get().model == "model-v1"
    now[0] = 10.0
    registry.version = "2"
    assert get().version == "1", "within the interval the alias is not asked again"
    assert registry.resolves == 1
    now[0] = 31.0
    assert get().model == "model-v2"
    now[0] = 62.0
    assert get().version == "2"
    assert registry.loads == ["1", "2"], "an unchanged alias does not reload"


def test_registry_outage_keeps_scoring_with_the_loaded_model_but_fails_without_one() -> None:
    registry, now = Registry(), [0.0]
    registry.up = False
    with pytest.raises(ConnectionError):
        champion(REF, clock=lambda: now[0], resolve=registry.resolve, load=registry.load)
    registry.up = True
    assert champion(REF, clock=lambda: now[0], resolve=registry.resolve, load=registry.load).version == "1"
    registry.up = False
    now[0] = 100.0
    assert champion(REF, clock=lambda: now[0], resolve=registry.resolve, load=registry.load).version == "1"
