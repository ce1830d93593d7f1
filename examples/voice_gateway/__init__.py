"""A small seed-001 voice gateway behind relaypass's ASGI middleware, and its client."""
