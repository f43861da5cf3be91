"""Named users, roles, passwords, per-user API tokens and browser sessions of the work-order API."""
