"""The machine facts every stream and chain bench JSON carries (``bench.host``)."""

from __future__ import annotations

import math

from bench.host import cpu_model, host, reference

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
cpu MHz\t\t: 2445.404

processor\t: 1
model name\t: AMD EPYC 7B13
"""


def test_the_cpu_model_is_the_first_model_name_line() -> None:
    assert cpu_model(CPUINFO) == "AMD EPYC 7B13"
    assert cpu_model("processor\t: 0\nmodel name\t:   \n") is None
    assert cpu_model("") is None
    assert cpu_model("model name without a colon\n") is None


def test_reference_timings_are_positive_and_finite() -> None:
    timings = reference()
    assert set(timings) == {"python_loop_ns_per_iteration", "numpy_sort_1e6_ms"}
    assert all(math.isfinite(v) and v > 0 for v in timings.values())


def test_host_names_the_machine() -> None:
    facts = host()
    assert isinstance(facts["cpus"], int)
    assert facts["cpus"] >= 1
    assert facts["python"].count(".") == 2
    assert facts["reference"]["python_loop_ns_per_iteration"] > 0
