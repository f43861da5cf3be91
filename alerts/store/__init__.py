"""The work-order database: tables, migrations at start, sessions (SQLite by default, PostgreSQL too)."""
