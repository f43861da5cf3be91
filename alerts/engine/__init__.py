"""The alert engine service: Kafka ``risk`` in, rules, store, Kafka ``alerts`` out, webhooks."""
