"""A mid-run change on one site: only that site's readings from that step on differ, as the kind says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.fleet import ChangeKind, Fleet, FleetChange, FleetConfig

START = datetime(2026, 3, 1, tzinfo=UTC)


def readings(
    change: FleetChange | None,
) -> dict[tuple[str, int], tuple[str, dict[str, float], dict[str, float]]]:
    fleet = Fleet(FleetConfig(6, ("site-1", "site-2"), 7, START, 60.0, 120, change=change))
    return {(r["asset_id"], r["seq"]): (a.site, r["settings"], r["sensors"]) for a, r in fleet.readings()}


@pytest.mark.parametrize("kind", list(ChangeKind))
def test_only_the_changed_site_after_the_step_reads_differently(kind: ChangeKind) -> None:
    plain, changed = readings(None), readings(FleetChange("site-2", 50, kind))
    assert plain.keys() == changed.keys()
    for key, (site, settings, sensors) in plain.items():
        _, settings2, sensors2 = changed[key]
        if site == "site-2" and key[1] >= 50:
            assert sensors2 != sensors, key
        else:  # the change draws nothing random: every other reading is the same to the bit
            assert (settings2, sensors2) == (settings, sensors), key


def test_recalibration_biases_the_sensors_and_leaves_the_duty_alone() -> None:
    plain, changed = readings(None), readings(FleetChange("site-2", 0, ChangeKind.RECALIBRATION))
    for key, (site, settings, sensors) in plain.items():
        if site != "site-2":
            continue
        _, settings2, sensors2 = changed[key]
        assert settings2 == settings
        assert sensors2["bearing_temp_c"] == pytest.approx(sensors["bearing_temp_c"] + 6.0)
        assert sensors2["vibration_mm_s"] == pytest.approx(sensors["vibration_mm_s"] + 0.8)
        assert sensors2["motor_current_a"] == sensors["motor_current_a"]


def test_a_new_duty_point_raises_the_setpoint_and_the_physics_follows() -> None:
    plain, changed = readings(None), readings(FleetChange("site-2", 0, ChangeKind.DUTY_POINT))
    for key, (site, settings, sensors) in plain.items():
        if site != "site-2":
            continue
        _, settings2, sensors2 = changed[key]
        assert settings2["speed_setpoint_rpm"] == settings["speed_setpoint_rpm"] + 350.0
        assert sensors2["speed_rpm"] > sensors["speed_rpm"]
        assert sensors2["flow_m3_h"] > sensors["flow_m3_h"]


@given(
    site=st.text(st.characters(blacklist_characters="@ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"), min_size=1),
    step=st.integers(0, 10**6),
    kind=st.sampled_from(list(ChangeKind)),
)
def test_parse_reads_what_str_writes(site: str, step: int, kind: ChangeKind) -> None:
    change = FleetChange(site, step, kind)
    if site.strip() == site and not any(c.isspace() for c in site):
        assert FleetChange.parse(str(change)) == change


@pytest.mark.parametrize("text", ["", "site-2", "site-2@x:duty_point", "site-2@10:unknown", "@10:duty_point"])
def test_parse_refuses_what_is_not_a_change(text: str) -> None:
    with pytest.raises(ValueError, match="change"):
        FleetChange.parse(text)
