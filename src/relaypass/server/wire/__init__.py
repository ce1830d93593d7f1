"""Wire forms of the procedure table: ``/rpc`` (JSON + problem+json) and ``/trpc`` (tRPC v11)."""
