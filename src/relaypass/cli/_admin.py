"""Admin commands on the SDK (``login``, ``orgs``, ``tenants``, ``mint`` and the rest).

``login``, ``logout``, ``whoami``, ``orgs``, ``tenants``, ``api-keys``,
``signing-keys``, ``service-accounts``, ``rooms``, ``audit`` and ``mint`` talk to a
running control plane through :class:`relaypass.client.Client`. The URL comes
from ``--url``, ``RELAYPASS_URL`` or the login file; the key from
``RELAYPASS_API_KEY``, ``CLUTCHCALL_API_KEY`` or the login file
(``$XDG_CONFIG_HOME/relaypass/credentials.json``, mode 0600). Every command
prints a table, or JSON with ``--json``; a refusal is one line with its code.
Org-scoped commands act on the calling key's own org unless ``--org`` says
otherwise.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relaypass.cli._answers import show
from relaypass.cli._groups import grouped
from relaypass.cli._login import login, logout, run_with_client
from relaypass.cli._output import JsonFlag

if TYPE_CHECKING:
    from pydantic import BaseModel

    from relaypass.client import Client

__all__ = ["InOrg", "Service", "register"]

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Control-plane URL (default: RELAYPASS_URL or login).")
]
Ttl = Annotated[int | None, typer.Option("--ttl", help="Lifetime in seconds.")]
TokenOnly = Annotated[bool, typer.Option("--token-only", help="Print the token alone (for pipes).")]
OrgOption = Annotated[
    str | None, typer.Option("--org", help="The org (default: the API key's own).")
]


@dataclass(frozen=True, slots=True)
class Service:
    """Which control plane a command asks, and how it prints the answer."""

    url: UrlOption = None
    as_json: JsonFlag = False


@dataclass(frozen=True, slots=True)
class InOrg:
    """:class:`Service`, for a command on one org's objects."""

    org: OrgOption = None
    url: UrlOption = None
    as_json: JsonFlag = False

    @property
    def org_id(self) -> str:
        """The org named, or "" for the calling key's own (the service's reading of none)."""
        return self.org or ""


def _run(
    at: Service | InOrg, call: Callable[[Client], BaseModel], *, token_only: bool = False
) -> None:
    result = run_with_client(at.url, at.as_json, call)
    if token_only:
        sys.stdout.write(f"{getattr(result, 'token', '')}\n")
    else:
        show(result, at.as_json)


def register(app: typer.Typer) -> None:
    """Add the admin commands to ``app``."""
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(grouped(whoami))
    for name, sub in (
        ("orgs", _orgs()),
        ("tenants", _tenants()),
        ("api-keys", _api_keys()),
        ("signing-keys", _signing_keys()),
        ("service-accounts", _service_accounts()),
        ("rooms", _rooms()),
        ("mint", _mint()),
    ):
        app.add_typer(sub, name=name)
    app.command("audit")(grouped(audit))


def whoami(at: Service = Service()) -> None:
    """The calling key's org, id, scopes and namespaces."""
    _run(at, lambda c: c.auth.whoami())


def audit(
    action: Annotated[str | None, typer.Option(help="Only this action (token.mint, ...).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 50,
    at: InOrg = InOrg(),
) -> None:
    """The org's audit log, newest first."""
    _run(at, lambda c: c.audit.list(org_id=at.org_id, action=action, limit=limit))


# The commands whose shape repeats: one declaration each, with its own help text.


def _listing(sub: typer.Typer, doc: str, call: Callable[[Client, str], Any]) -> None:
    """``list``: the org's objects of one kind."""

    def list_(at: InOrg = InOrg()) -> None:
        _run(at, lambda c: call(c, at.org_id))

    list_.__doc__ = doc
    sub.command("list")(grouped(list_))


def _by_id(
    sub: typer.Typer, name: str, metavar: str, doc: str, call: Callable[[Client, str, str], Any]
) -> None:
    """A command on one object of the org, named by its id."""

    def command(target: str, at: InOrg = InOrg()) -> None:
        _run(at, lambda c: call(c, at.org_id, target))

    # Annotations are read as text in this module's globals; this one needs the local name.
    command.__annotations__["target"] = Annotated[str, typer.Argument(metavar=metavar)]
    command.__doc__ = doc
    sub.command(name)(grouped(command))


def _in_room(
    sub: typer.Typer, name: str, doc: str, call: Callable[[Client, str, str], Any]
) -> None:
    """A command on one room."""

    def command(room: RoomArg, at: InOrg = InOrg()) -> None:
        _run(at, lambda c: call(c, at.org_id, room))

    command.__doc__ = doc
    sub.command(name)(grouped(command))


def _to_participant(
    sub: typer.Typer, name: str, doc: str, call: Callable[[Client, str, str, str], Any]
) -> None:
    """A command on one participant of a room."""

    def command(
        room: RoomArg,
        participant: WhoArg,
        at: InOrg = InOrg(),
    ) -> None:
        _run(at, lambda c: call(c, at.org_id, room, participant))

    command.__doc__ = doc
    sub.command(name)(grouped(command))


def _orgs() -> typer.Typer:
    sub = typer.Typer(help="Orgs of the platform (platform:admin).", no_args_is_help=True)

    @sub.command("create")
    @grouped
    def create(
        name: str,
        namespace: Annotated[list[str] | None, typer.Option(help="A namespace root.")] = None,
        at: Service = Service(),
    ) -> None:
        """A new org and its first admin key (shown once)."""
        _run(at, lambda c: c.orgs.create(name=name, namespaces=namespace or None))

    @sub.command("list")
    @grouped
    def list_(at: Service = Service()) -> None:
        """Every org."""
        _run(at, lambda c: c.orgs.list())

    @sub.command("disable")
    @grouped
    def disable(org_id: str, at: Service = Service()) -> None:
        """Refuse an org's keys and tokens and cut its sessions."""
        _run(at, lambda c: c.orgs.disable(org_id=org_id))

    @sub.command("set-limits")
    @grouped
    def set_limits(
        org_id: str,
        max_sessions: LimitOption = None,
        connects_per_second: LimitOption = None,
        mints_per_minute: LimitOption = None,
        session_minutes_per_month: LimitOption = None,
        at: Service = Service(),
    ) -> None:
        """Replace an org's quotas (each left out is lifted); live sessions stay."""
        _run(at, lambda c: c.orgs.set_limits(
            org_id=org_id, max_sessions=max_sessions, connects_per_second=connects_per_second,
            mints_per_minute=mints_per_minute,
            session_minutes_per_month=session_minutes_per_month))  # fmt: skip

    @sub.command("limits")
    @grouped
    def limits(at: InOrg = InOrg()) -> None:
        """An org's quotas (null: no limit)."""
        _run(at, lambda c: c.orgs.limits(org_id=at.org_id))

    return sub


def _tenants() -> typer.Typer:
    sub = typer.Typer(help="Tenants of your org.", no_args_is_help=True)

    @sub.command("create")
    @grouped
    def create(
        tenant_id: str,
        label: Annotated[str, typer.Option(help="A display name.")] = "",
        at: InOrg = InOrg(),
    ) -> None:
        """A tenant."""
        _run(
            at,
            lambda c: c.tenants.create(org_id=at.org_id, tenant_id=tenant_id, label=label),
        )

    _listing(sub, "The org's tenants.", lambda c, org: c.tenants.list(org_id=org))
    _by_id(sub, "disable", "tenant_id", "Refuse a tenant's mints and cut its sessions.",
           lambda c, org, tenant: c.tenants.disable(org_id=org, tenant_id=tenant))  # fmt: skip

    return sub


def _api_keys() -> typer.Typer:
    sub = typer.Typer(help="API keys of your org.", no_args_is_help=True)

    @sub.command("create")
    @grouped
    def create(
        label: str,
        scope: Annotated[list[str], typer.Option(help="keys:admin, tokens:mint, audit:read.")],
        environment: Annotated[str, typer.Option(help="live or test.")] = "live",
        at: InOrg = InOrg(),
    ) -> None:
        """A key (shown once)."""
        _run(at, lambda c: c.streams.api_keys.create(
            org_id=at.org_id, label=label, scopes=scope, environment=environment))  # fmt: skip

    _listing(sub, "The org's keys (never their secrets).",
             lambda c, org: c.streams.api_keys.list(org_id=org))  # fmt: skip
    _by_id(sub, "revoke", "key_id", "Revoke a key now.",
           lambda c, org, key: c.streams.api_keys.revoke(org_id=org, id=key))  # fmt: skip

    @sub.command("reroll")
    @grouped
    def reroll(
        key_id: str,
        grace_seconds: Annotated[int, typer.Option(help="The old key works this long.")] = 0,
        at: InOrg = InOrg(),
    ) -> None:
        """Replace a key (the new one is shown once)."""
        _run(at, lambda c: c.streams.api_keys.reroll(
            org_id=at.org_id, id=key_id, grace_seconds=grace_seconds))  # fmt: skip

    return sub


def _signing_keys() -> typer.Typer:
    sub = typer.Typer(help="Signing keys of your org.", no_args_is_help=True)

    @sub.command("create")
    @grouped
    def create(
        label: str,
        algorithm: Annotated[
            str, typer.Option(help="EdDSA, ES256, ES384, RS256, PS256.")
        ] = "EdDSA",
        at: InOrg = InOrg(),
    ) -> None:
        """A key; it signs once gates have had time to learn it."""
        _run(at, lambda c: c.streams.signing_keys.create(
            org_id=at.org_id, label=label, algorithm=algorithm))  # fmt: skip

    _listing(sub, "The org's signing keys and their states.",
             lambda c, org: c.streams.signing_keys.list(org_id=org))  # fmt: skip
    _by_id(sub, "retire", "kid", "Stop signing with a key.",
           lambda c, org, kid: c.streams.signing_keys.retire(org_id=org, id=kid))  # fmt: skip
    _by_id(sub, "revoke", "kid", "Distrust a key now.",
           lambda c, org, kid: c.streams.signing_keys.revoke(org_id=org, id=kid))  # fmt: skip

    return sub


def _service_accounts() -> typer.Typer:
    sub = typer.Typer(help="Service accounts of your tenants (ClutchCall).", no_args_is_help=True)

    @sub.command("publish")
    @grouped
    def publish(
        tenant: Annotated[str, typer.Option(help="The tenant.")],
        kid: Annotated[str, typer.Option(help="The private_key_id.")],
        public_key: Annotated[Path, typer.Option(help="The RSA public key (PEM file).")],
        role: Annotated[str, typer.Option(help="sdk or admin.")] = "sdk",
        at: Service = Service(),
    ) -> None:
        """Register a tenant's public key."""
        pem = public_key.read_text()
        _run(at, lambda c: c.publish_service_account(
            tenant_id=tenant, private_key_id=kid, public_key_pem=pem, role=role))  # fmt: skip

    @sub.command("revoke")
    @grouped
    def revoke(
        tenant: Annotated[str, typer.Option(help="The tenant.")],
        kid: Annotated[str, typer.Option(help="The private_key_id.")],
        at: Service = Service(),
    ) -> None:
        """Stop accepting a key; gates cut its sessions."""
        _run(at, lambda c: c.revoke_service_account(tenant_id=tenant, private_key_id=kid))

    @sub.command("list")
    @grouped
    def list_(
        tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
        at: InOrg = InOrg(),
    ) -> None:
        """Registered service-account keys."""
        _run(at, lambda c: c.service_accounts.list(org_id=at.org_id, tenant_id=tenant))

    return sub


RoomArg = Annotated[str, typer.Argument(help="The room id.")]
LimitOption = Annotated[int | None, typer.Option(min=0, help="Left out: no limit.")]


class Tier(enum.StrEnum):
    """A room's tiers."""

    speaker = "speaker"
    viewer = "viewer"


WhoArg = Annotated[str, typer.Argument(help="The participant id.")]


def _rooms() -> typer.Typer:
    sub = typer.Typer(
        help="Rooms live: lobby, participants, ending (keys:admin).", no_args_is_help=True
    )

    _in_room(sub, "lobby", "Who waits in a room's lobby, on every gate.",
             lambda c, org, room: c.rooms.lobby.list(org_id=org, room_id=room))  # fmt: skip

    @sub.command("participants")
    @grouped
    def participants(
        room: RoomArg,
        tier: Annotated[
            Tier | None, typer.Option(help="speaker or viewer (all when left out).")
        ] = None,
        at: InOrg = InOrg(),
    ) -> None:
        """Who is in a room on every gate: tier, lobby state, grant."""
        _run(at, lambda c: c.rooms.participants.list(
            org_id=at.org_id, room_id=room, tier=tier.value if tier else None))  # fmt: skip

    _to_participant(sub, "admit", "Admit a waiting participant.",
                    lambda c, org, room, who: c.rooms.lobby.admit(org_id=org, room_id=room,
                                                         participant_id=who))  # fmt: skip

    _to_participant(sub, "deny", "Turn a waiting participant away.",
                    lambda c, org, room, who: c.rooms.lobby.deny(org_id=org, room_id=room,
                                                         participant_id=who))  # fmt: skip

    _in_room(sub, "admit-all", "Admit everyone waiting.",
             lambda c, org, room: c.rooms.lobby.admit_all(org_id=org, room_id=room))  # fmt: skip

    @sub.command("update")
    @grouped
    def update(
        room: RoomArg,
        participant: WhoArg,
        grant: Annotated[str | None, typer.Option(help="The new grant, as JSON flags.")] = None,
        viewer: Annotated[bool | None, typer.Option("--viewer/--speaker", help="The tier.")] = None,
        at: InOrg = InOrg(),
    ) -> None:
        """Push a new grant and/or tier to the participant's live sessions."""
        flags = json.loads(grant) if grant else None
        _run(at, lambda c: c.rooms.participants.update(
            org_id=at.org_id, room_id=room, participant_id=participant, grant=flags,
            is_viewer=viewer))  # fmt: skip

    _to_participant(sub, "remove",
                    "Close the participant's sessions everywhere; older tokens cannot rejoin.",
                    lambda c, org, room, who: c.rooms.participants.remove(
                        org_id=org, room_id=room, participant_id=who))  # fmt: skip

    _in_room(sub, "end", "Close every session of the room; older tokens cannot rejoin.",
             lambda c, org, room: c.rooms.end(org_id=org, room_id=room))  # fmt: skip

    return sub


def _mint() -> typer.Typer:
    sub = typer.Typer(help="Mint tokens (tokens:mint).", no_args_is_help=True)

    @sub.command("relay")
    @grouped
    def relay(
        ns: Annotated[list[str], typer.Option(help="A namespace pattern (repeat).")],
        tenant: Annotated[
            str, typer.Option(help="The tenant (default: the org's 'default' tenant).")
        ] = "default",
        ttl: Ttl = None,
        at: InOrg = InOrg(),
        token_only: TokenOnly = False,
    ) -> None:
        """A relay token."""
        _run(at, lambda c: c.tokens.relay.mint(
            org_id=at.org_id, tenant=tenant, ns=ns, ttl_seconds=ttl),
            token_only=token_only)  # fmt: skip

    @sub.command("moq")
    @grouped
    def moq(
        root: Annotated[str, typer.Option(help="The connection root.")] = "",
        publish: Annotated[list[str] | None, typer.Option(help="A path it may publish.")] = None,
        subscribe: Annotated[list[str] | None, typer.Option(help="A path it may read.")] = None,
        wire: Annotated[
            str,
            typer.Option(
                "--format",
                help="moq-token (paths are literal prefixes) or moq-auth (paths are patterns).",
            ),
        ] = "moq-token",
        ttl: Ttl = None,
        at: InOrg = InOrg(),
        token_only: TokenOnly = False,
    ) -> None:
        """A moq token (moq-token's claims, or moq-auth's)."""
        _run(at, lambda c: c.tokens.moq.mint(
            org_id=at.org_id, root=root, publish=publish, subscribe=subscribe,
            ttl_seconds=ttl or 3600, format=wire), token_only=token_only)  # fmt: skip

    @sub.command("room")
    @grouped
    def room(
        room_id: Annotated[str, typer.Option("--room", help="The room.")],
        participant: Annotated[str, typer.Option(help="The participant.")],
        role: Annotated[str, typer.Option(help="host, speaker or viewer.")] = "speaker",
        ttl: Ttl = None,
        at: InOrg = InOrg(),
        token_only: TokenOnly = False,
    ) -> None:
        """A room token (VideoSDK)."""
        _run(at, lambda c: c.tokens.room.mint(
            org_id=at.org_id, room_id=room_id, participant_id=participant, role=role,
            ttl_seconds=ttl), token_only=token_only)  # fmt: skip

    return sub
