"""A small TeleQuick-style voice gateway behind relaypass's ASGI middleware, and its client."""
