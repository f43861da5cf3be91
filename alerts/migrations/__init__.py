"""Alembic migrations of the alert and work-order store (run by ``alerts.store.db.migrate``)."""
