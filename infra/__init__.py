"""The local stack of real services and their configuration (Mosquitto, Kafka, InfluxDB, MLflow)."""
