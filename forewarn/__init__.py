"""forewarn: predictive maintenance for equipment fleets.

This package holds what every component shares: typed settings, the state folder and the one
command-line entry point. Components live beside it in the user's layout (``ingest``,
``streaming``, ``models``, ``alerts``, ``dashboards``, ``infra``).
"""

__version__ = "0.1.0"
