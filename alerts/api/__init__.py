"""The work-order REST service (FastAPI): alerts, work orders, technicians, parts, KPIs."""
