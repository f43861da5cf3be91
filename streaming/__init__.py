"""The Spark Structured Streaming scoring job: Kafka ``telemetry`` → features → model → ``risk``."""
