"""The JVM options setting (FOREWARN_SPARK_JAVA_OPTIONS) on the driver JVM a job starts itself.

``streaming.session.spark_session`` passes them as ``spark.driver.extraJavaOptions``; Spark's
launcher puts them on the driver's command line before the JVM starts. Read back from the
running JVM: its arguments, and the HotSpot flags they set.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.stack.service import StackContext

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _vm_option(jvm: Any, name: str) -> str:
    bean_class = jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(bean_class)
    return str(bean.getVMOption(name).getValue())


def test_driver_runs_with_the_settings_options(spark: Any, stack: StackContext) -> None:
    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    options = stack.spark.java_options.split()
    assert options, "the test expects the default options (FOREWARN_SPARK_JAVA_OPTIONS unset)"
    for option in options:
        assert option in arguments
    if "-XX:-TieredCompilation" in options:
        assert _vm_option(jvm, "TieredCompilation") == "false"
    if "-XX:TieredStopAtLevel=1" in options:  # the default: C1 alone
        assert _vm_option(jvm, "TieredStopAtLevel") == "1"
    if "-XX:+UseParallelGC" in options:
        assert _vm_option(jvm, "UseParallelGC") == "true"
