"""Marketing pages, one module per area."""
