"""``forewarn dlq list|show``, the parts that need no Kafka: choosing, counting and showing letters, and
bad options or an absent broker answered with one line and an exit code that means something."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner, Result

from chain import dlq_view
from chain.dlq import Selection
from chain.dlq_cli import dlq_app
from forewarn.contracts.dead_letter import DeadLetter, GatewayReason, Reason, ScoringReason, Stage
from forewarn.contracts.risk import RiskRejectReason

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def letter(stage: Stage, reason: Reason, minute: int, payload: bytes = b'{"a": 1}') -> DeadLetter:
    at = T0 + timedelta(minutes=minute)
    return DeadLetter(stage, reason, f"why {minute}", f"src-{minute}", payload, at)


LETTERS = [
    ("kafka:telemetry.dlq/0/0", letter(Stage.GATEWAY, GatewayReason.MALFORMED_JSON, 3)),
    ("kafka:telemetry.dlq/0/1", letter(Stage.GATEWAY, GatewayReason.TOO_OLD, 1)),
    ("kafka:telemetry.dlq/0/2", letter(Stage.SCORING, ScoringReason.UNSCORABLE, 2)),
    ("kafka:risk.dlq/0/0", letter(Stage.ALERTS, RiskRejectReason.NOT_JSON, 4)),
    ("kafka:telemetry.dlq/0/3", letter(Stage.GATEWAY, GatewayReason.MALFORMED_JSON, 5)),
]


def test_choose_keeps_the_newest_selected_oldest_first() -> None:
    shown, total = dlq_view.choose(LETTERS, Selection(), limit=3)
    assert total == 5
    assert [w for w, _ in shown] == [
        "kafka:telemetry.dlq/0/0",
        "kafka:risk.dlq/0/0",
        "kafka:telemetry.dlq/0/3",
    ]
    gateway, total = dlq_view.choose(LETTERS, Selection(stages=frozenset({Stage.GATEWAY})), limit=50)
    assert (total, [d.reason for _, d in gateway]) == (3, ["too_old", "malformed_json", "malformed_json"])
    window = Selection(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
    in_window = [w for w, _ in dlq_view.choose(LETTERS, window, 50)[0]]
    assert in_window == ["kafka:telemetry.dlq/0/2", "kafka:telemetry.dlq/0/0"]


def test_counts_by_stage_then_reason() -> None:
    by_stage = dlq_view.counts(LETTERS, Selection())
    assert by_stage == {
        "alerts": {"not_json": 1},
        "gateway": {"malformed_json": 2, "too_old": 1},
        "scoring": {"unscorable": 1},
    }
    assert dlq_view.counts_table(by_stage).splitlines()[2].split() == ["gateway", "malformed_json", "2"]
    only = Selection(reasons=frozenset({"unscorable"}))
    assert dlq_view.counts(LETTERS, only) == {"scoring": {"unscorable": 1}}


def test_one_line_per_letter_with_the_detail_shortened() -> None:
    long = DeadLetter(Stage.GATEWAY, GatewayReason.WRONG_TYPE, "x" * 200, "forewarn/s/a/telemetry", b"", T0)
    header, row = dlq_view.letters_table([("kafka:t.dlq/0/7", long)]).splitlines()
    assert header.split() == ["WHERE", "STAGE", "REASON", "RECEIVED", "SOURCE", "DETAIL"]
    cells = row.split()
    assert cells[:4] == ["kafka:t.dlq/0/7", "gateway", "wrong_type", "2026-03-01T12:00:00Z"]
    assert cells[4:] == ["forewarn/s/a/telemetry", "x" * (dlq_view.DETAIL_WIDTH - 1) + "…"]


def test_show_prints_the_payload_as_text_or_base64() -> None:
    binary = b"\x00\xff not utf-8"
    data = dlq_view.letter_data("kafka:t/0/1", letter(Stage.GATEWAY, GatewayReason.MALFORMED_JSON, 0, binary),
                                with_payload=True)  # fmt: skip
    assert (data["payload_encoding"], base64.b64decode(data["payload"])) == ("base64", binary)
    assert data["payload_bytes"] == len(binary)
    text = dlq_view.describe(
        "kafka:t/0/1", letter(Stage.SCORING, ScoringReason.UNSCORABLE, 0, b'[{"seq": 1}]')
    )
    assert text.splitlines()[0].split() == ["where", "kafka:t/0/1"]
    assert "payload_encoding  utf-8" in text
    assert text.endswith('payload:\n[{"seq": 1}]')
    assert "payload" not in dlq_view.letter_data("kafka:t/0/1", LETTERS[0][1], with_payload=False)


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["list", "--reason", "bogus"], "--reason must be among"),
        (["list", "--stage", "mqtt"], "--stage must be among: gateway, scoring, alerts"),
        (["list", "--since", "2026-01-01T00:00:00"], "needs a UTC offset"),
        (["replay", "--until", "yesterday"], "is not an ISO 8601 date-time"),
        (["show", "telemetry.dlq/0/3"], "is not kafka:<topic>/<partition>/<offset>"),
    ],
)
def test_bad_options_exit_2_in_one_line(args: list[str], says: str) -> None:
    result = CliRunner().invoke(dlq_app, args)
    assert result.exit_code == 2, result.output
    assert says in one_error_line(result)


def test_help_and_usage() -> None:
    runner = CliRunner()
    assert "Inspect and replay dead letters of every stage" in runner.invoke(dlq_app, ["--help"]).stdout
    for command in ("list", "show", "replay"):
        assert runner.invoke(dlq_app, [command, "--help"]).exit_code == 0
    assert runner.invoke(dlq_app, ["list", "--limit", "0"]).exit_code == 2
    assert runner.invoke(dlq_app, ["show"]).exit_code == 2


def test_no_broker_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FOREWARN_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    monkeypatch.setenv("FOREWARN_KAFKA_BOOTSTRAP_TIMEOUT_S", "1")
    result = CliRunner().invoke(dlq_app, ["list", "--json"])
    assert result.exit_code == 3, result.output  # ExitCode.UNREACHABLE
    assert f"Kafka at 127.0.0.1:{port} does not answer" in one_error_line(result)
    assert result.stdout == ""
