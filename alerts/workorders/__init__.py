"""Work orders: lifecycle, priority and SLA, crew suggestion, parts, outcomes, audit."""
