"""The step pauses Python's cycle collector for its call only (its readings' dicts would otherwise be
walked by full passes again and again), and gives it back as it found it, even when the call raises."""

from __future__ import annotations

import gc

import pytest

from streaming.step import gc_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_off_in_the_call_and_as_it_was_after(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), gc_paused():
            raise RuntimeError("a failing call")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
