"""The gate's adapters, side by side: each translates one wire onto the one gate.

Every adapter turns what its peer sends into ``Gate.connect(credential, path,
origin)``, ``Session.refresh(credential)`` and ``session.authorize_*``, and the
answers back into its wire; none reads claims or builds permissions itself.

- :mod:`.moq_relay`: a MoQ relay on moq's own bindings (``relaypass relay``).
- :mod:`.http`: the HTTP auth service for media servers that call out (nginx-rtmp's
  ``on_*`` callbacks, nginx ``auth_request`` for HLS) (``relaypass gate serve``).
- :mod:`.asgi`: middleware in front of any ASGI app (WebSocket and HTTP).
- :mod:`.nats`: nats-server's auth callout (``relaypass nats-callout serve``).

Each is imported on its own: this package imports none of them, so an adapter's
optional dependencies (moq's bindings, nats-py) load only when it is used.
"""
