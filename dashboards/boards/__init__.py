"""The boards, one module each; :data:`dashboards.registry.BOARDS` lists them in build order."""
