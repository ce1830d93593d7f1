"""A voice page with a backend-minted browser token."""
