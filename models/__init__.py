"""Features shared with streaming, training, evaluation, the MLflow registry and promotion."""
