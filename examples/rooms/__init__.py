"""A room server behind the gate (VideoSDK): lobby, moderation, live grants, tiers."""
