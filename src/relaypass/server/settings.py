"""Control-plane settings from the environment (``RELAYPASS_*``), with embedded defaults.

Nothing is required: with no environment at all the service keeps a SQLite
file, a generated key-encryption key and a generated API-key pepper in the
data directory (files with secrets get mode 0600).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from relaypass.server.webhooks import RETRY_SECONDS


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "relaypass"


class Settings(BaseSettings):
    """Every setting, read once at start-up."""

    model_config = SettingsConfigDict(env_prefix="RELAYPASS_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = Field(default="relaypass", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    kek: str | None = Field(default=None, repr=False)
    api_key_pepper: str | None = Field(default=None, repr=False)
    api_key_prefix: str = "rp"
    key_propagation_seconds: int = Field(default=60, ge=0, le=3600)
    max_token_ttl_seconds: int = Field(default=86_400, ge=60)
    mint_rate_per_minute: int = Field(default=1200, ge=0)
    #: Signing keys one org may publish at once (pending, active, retiring).
    max_keys_per_org: int = Field(default=16, ge=1, le=1000)
    #: The namespace root of the first org (the one the first run creates). Empty: the
    #: unprefixed space, as a single-org deployment expects; every later org gets a
    #: root of its own, fenced off from the first org's keys.
    first_org_namespace: str = Field(default="", max_length=256)
    #: The ``iss`` of the relay, playback, browser and session tokens this deployment mints
    #: (a platform may keep its own name, e.g. ``clutchcall-bff``); its gates pin the same
    #: value with ``--issuer``. Room tokens carry the minting API key's id instead.
    token_issuer: str = Field(default="relaypass", pattern=r"^[A-Za-z0-9_.:/-]{1,128}$")
    #: Request bodies above this size are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: Usage rollups: minutes are kept this many hours, then folded into hours; hours this
    #: many days, then folded into days; days this many days, then dropped.
    usage_minutes_hours: int = Field(default=48, ge=1, le=24 * 31)
    usage_hours_days: int = Field(default=60, ge=1, le=3660)
    usage_days_days: int = Field(default=400, ge=1, le=36_600)
    #: How often the control plane samples the gates' live sessions for peaks (seconds).
    usage_sample_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    #: Webhooks may go to loopback and private addresses (receivers on the operator's own
    #: network); customers' endpoints on such addresses are refused otherwise.
    webhook_allow_private: bool = False
    #: Waits between delivery attempts (seconds); past the last, the delivery fails.
    webhook_retry_seconds: tuple[float, ...] = RETRY_SECONDS
    #: An endpoint whose deliveries failed this long is disabled (seconds).
    webhook_disable_after_seconds: float = Field(default=86_400, ge=1)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        database = self.data_dir / "relaypass.db"
        database.touch(mode=0o600, exist_ok=True)  # SQLite would create it with the umask
        return f"sqlite:///{database}"
