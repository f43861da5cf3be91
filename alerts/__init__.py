"""Alert rules, alert states and proactive work orders (crew, parts, SLA), KPIs."""
