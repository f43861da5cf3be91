"""The scoring job's log line per micro-batch, in words with dead letters by reason. The sink's dead-letter
lines against the real Spark and Kafka: tests/integration/streaming/test_dlq_revival.py."""

from __future__ import annotations

from streaming.sinks import batch_line


def test_a_batch_in_words_with_dead_letters_by_reason() -> None:
    counts = {
        "readings_in": 300,
        "duplicates": 2,
        "readings_out": 290,
        "late": 6,
        "unscorable": 2,
        "not_canonical": 0,
    }
    assert batch_line(12, counts, 1.234) == (
        "batch 12: readings 300 (duplicates 2) → scored 290, "
        "dead letters 8 (late_for_state 6, unscorable 2) in 1.2 s"
    )


def test_a_clean_batch_names_no_dead_letters() -> None:
    counts = {
        "readings_in": 10,
        "duplicates": 0,
        "readings_out": 10,
        "late": 0,
        "unscorable": 0,
        "not_canonical": 0,
    }
    assert batch_line(3, counts, 0.5) == "batch 3: readings 10 → scored 10 in 0.5 s"
