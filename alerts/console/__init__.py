"""The operations console: server-rendered pages served by the work-order API (same process, same store)."""
