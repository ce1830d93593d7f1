"""Control-plane procedures, grouped by domain."""
