"""Token profiles: one module per wire format. Wire names appear only here."""
