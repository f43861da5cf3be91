"""Commands of `forewarn plan`/`forewarn parts` (filled in by its owner)."""
