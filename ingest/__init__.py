"""Telemetry in: the versioned contract, the MQTT → Kafka gateway, the fleet simulator and replay."""
