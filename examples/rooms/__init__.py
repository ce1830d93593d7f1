"""A room server behind the gate (seed 004): lobby, moderation, live grants, tiers."""
