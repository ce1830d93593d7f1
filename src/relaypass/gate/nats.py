"""Moved to :mod:`relaypass.gate.adapters.nats`; this name keeps existing imports working."""

from relaypass.gate.adapters.nats import (
    AUTH_SUBJECT,
    INBOX,
    NatsCallout,
    NatsJwtError,
    decode_nats_jwt,
    encode_nats_jwt,
    path_to_subject,
    pattern_subjects,
    permissions_for,
    subject_token,
)

__all__ = [
    "AUTH_SUBJECT",
    "INBOX",
    "NatsCallout",
    "NatsJwtError",
    "decode_nats_jwt",
    "encode_nats_jwt",
    "path_to_subject",
    "pattern_subjects",
    "permissions_for",
    "subject_token",
]
