"""Service planning: crew schedules (OR-Tools CP-SAT), parts inventory as movements, parts demand from
predictions."""
