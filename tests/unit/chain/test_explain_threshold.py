"""Every alert carries its reasons: the scoring job explains every risk record at or above
``FOREWARN_STREAM_EXPLAIN_AT``, so that default must not be above any shipped rule set's
``open_threshold`` (an alert opened below it would show no top sensors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import load_rules
from forewarn.paths import project_root
from streaming.settings import StreamSettings

RULE_FILES = sorted((project_root() / "alerts").glob("rules.*.toml"))


def test_rule_files_are_found() -> None:
    assert len(RULE_FILES) >= 2, RULE_FILES


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_the_default_explain_threshold_is_at_or_below_every_open_threshold(path: Path) -> None:
    assert StreamSettings().explain_at <= load_rules(path).open_threshold
