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

import datetime as dt
import enum
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer
from rich.table import Table

from relaypass.cli._output import JsonFlag
from relaypass.cli._output import fail as _fail
from relaypass.cli._output import out as _out
from relaypass.errors import InvalidApiKeyError, RelaypassError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from relaypass.client import Client

__all__ = ["OrgOption", "UrlOption", "credentials_path", "register", "run_with_client",
           "save_credentials"]  # fmt: skip

T = TypeVar("T")

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Control-plane URL (default: RELAYPASS_URL or login).")
]
Ttl = Annotated[int | None, typer.Option("--ttl", help="Lifetime in seconds.")]
TokenOnly = Annotated[bool, typer.Option("--token-only", help="Print the token alone (for pipes).")]
OrgOption = Annotated[
    str | None, typer.Option("--org", help="The org (default: the API key's own).")
]


def credentials_path() -> Path:
    """Where ``relaypass login`` keeps the URL and key."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "relaypass" / "credentials.json"


def _saved() -> dict[str, str]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _client(url: str | None, as_json: bool) -> Client:
    from relaypass.client import Client  # noqa: PLC0415 - the client extra, only when used

    saved = _saved()
    key = os.environ.get("RELAYPASS_API_KEY") or os.environ.get("CLUTCHCALL_API_KEY")
    try:
        return Client(
            url or os.environ.get("RELAYPASS_URL") or saved.get("url"),
            api_key=key or saved.get("api_key"),
        )
    except InvalidApiKeyError:
        _fail(
            InvalidApiKeyError("no API key: run relaypass login or set RELAYPASS_API_KEY"), as_json
        )


def _show(result: BaseModel, as_json: bool) -> None:
    """A table in words, with human times and nothing cut; ``--json`` keeps the raw values."""
    data = result.model_dump(mode="json", by_alias=True)
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    rows = [v for v in data.values() if isinstance(v, list)]
    if not (len(data) == 1 and rows and all(isinstance(r, dict) for r in rows[0])):
        _out.print(_record(data))
        return
    items: list[dict[str, Any]] = rows[0]
    if not items:
        _out.print("(none)")
    elif len(items[0]) <= _WIDE_COLUMNS:
        table = Table()
        for name in items[0]:
            table.add_column(_words(name), overflow="fold")
        for item in items:
            table.add_row(*(_cell(k, v) for k, v in item.items()))
        _out.print(table)
    else:  # too many columns for a terminal: one record per item, nothing squeezed
        for number, item in enumerate(items, 1):
            _out.print(_record(item, title=f"{number} of {len(items)}"))


_WIDE_COLUMNS: Final = 4


def _record(data: dict[str, Any], title: str | None = None) -> Table:
    """Field and value, one per line; a token or an id wraps, it is never cut."""
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in data.items():
        table.add_row(_words(name), _cell(name, value))
    return table


def _words(name: str) -> str:
    """``createdAtMs`` -> ``created at``: table headers in words, the unit left to the value."""
    return re.sub(r"_ms$", "", _snake(name)).replace("_", " ")


def _cell(name: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        snake = _snake(name)
        if snake.endswith("_at_ms"):
            return _when(value / 1000)
        if snake.endswith("_at"):
            return _when(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _when(seconds: float) -> str:
    """A time in the viewer's own zone."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


#: How the commands spell the fields the service names: a refusal speaks of ``--ttl``, not
#: ``ttl_seconds``. Fields not listed are spelled ``--field-name``.
_FLAG_FOR_FIELD: Final = {
    "ttl_seconds": "--ttl",
    "org_id": "--org",
    "tenant_id": "TENANT",
    "room_id": "ROOM (or --room)",
    "participant_id": "PARTICIPANT (or --participant)",
    "private_key_id": "--kid",
    "public_key_pem": "--public-key",
    "is_viewer": "--viewer/--speaker",
    "grace_seconds": "--grace-seconds",
    "id": "ID",
}


def _snake(field: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", field).lower()


def _spelled_as_flags(exc: RelaypassError) -> RelaypassError:
    """The refusal with each field it names spelled as this command line's option."""
    fields = [str(f) for f in getattr(exc, "fields", None) or []]
    if not fields:
        return exc
    reason = exc.reason
    for field in sorted(fields, key=len, reverse=True):
        snake = _snake(field.split(".")[-1])
        flag = _FLAG_FOR_FIELD.get(snake, "--" + snake.replace("_", "-"))
        reason = re.sub(rf"\b{re.escape(field)}\b", flag, reason)
    spelled = type(exc).__new__(type(exc))
    RelaypassError.__init__(spelled, reason)
    vars(spelled).update(vars(exc), reason=reason)
    return spelled


def run_with_client(url: str | None, as_json: bool, call: Callable[[Client], T]) -> T:
    """``call`` with a client of the saved or given URL and key; a refusal is one line, exit 1."""
    client = _client(url, as_json)
    try:
        return call(client)
    except RelaypassError as exc:
        _fail(_spelled_as_flags(exc), as_json)
    finally:
        client.close()


def _run(
    url: str | None,
    as_json: bool,
    call: Callable[[Client], BaseModel],
    *,
    token_only: bool = False,
) -> None:
    result = run_with_client(url, as_json, call)
    if token_only:
        sys.stdout.write(f"{getattr(result, 'token', '')}\n")
    else:
        _show(result, as_json)


def _org(_client: Client, org: str | None) -> str:
    return org or ""  # the service takes the calling key's own org


def register(app: typer.Typer) -> None:
    """Add the admin commands to ``app``."""
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
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
    app.command("audit")(audit)


def login(
    url: Annotated[str, typer.Option("--url", help="Control-plane URL.")] = "http://127.0.0.1:8700",
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="The key (default: asked, or RELAYPASS_API_KEY)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check an API key against the control plane and keep it in a 0600 file."""
    from relaypass.client import Client  # noqa: PLC0415

    key = api_key or os.environ.get("RELAYPASS_API_KEY")
    if not key:
        key = typer.prompt("API key", hide_input=True)
    client = Client(url, api_key=key)
    try:
        who = client.auth.whoami()
    except RelaypassError as exc:
        _fail(exc, as_json)
    finally:
        client.close()
    save_credentials(url, key)
    _show(who, as_json)


def save_credentials(url: str, key: str, *, replace: bool = True) -> bool:
    """Keep the URL and key in the owner-only login file; ``False`` if one was kept instead."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "api_key": key}, out)
    path.chmod(0o600)
    return True


def logout(as_json: JsonFlag = False) -> None:
    """Forget the stored key."""
    path = credentials_path()
    existed = path.exists()
    path.unlink(missing_ok=True)
    if as_json:
        sys.stdout.write(json.dumps({"loggedOut": existed}) + "\n")
    else:
        _out.print("logged out" if existed else "not logged in")


def whoami(url: UrlOption = None, as_json: JsonFlag = False) -> None:
    """The calling key's org, id, scopes and namespaces."""
    _run(url, as_json, lambda c: c.auth.whoami())


def audit(
    action: Annotated[str | None, typer.Option(help="Only this action (token.mint, ...).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 50,
    org: OrgOption = None,
    url: UrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The org's audit log, newest first."""
    _run(url, as_json, lambda c: c.audit.list(org_id=_org(c, org), action=action, limit=limit))


# The commands whose shape repeats: one declaration each, with its own help text.


def _listing(sub: typer.Typer, doc: str, call: Callable[[Client, str], Any]) -> None:
    """``list``: the org's objects of one kind."""

    def list_(org: OrgOption = None, url: UrlOption = None, as_json: JsonFlag = False) -> None:
        _run(url, as_json, lambda c: call(c, _org(c, org)))

    list_.__doc__ = doc
    sub.command("list")(list_)


def _by_id(
    sub: typer.Typer, name: str, metavar: str, doc: str, call: Callable[[Client, str, str], Any]
) -> None:
    """A command on one object of the org, named by its id."""

    def command(
        target: str, org: OrgOption = None, url: UrlOption = None, as_json: JsonFlag = False
    ) -> None:
        _run(url, as_json, lambda c: call(c, _org(c, org), target))

    # Annotations are read as text in this module's globals; this one needs the local name.
    command.__annotations__["target"] = Annotated[str, typer.Argument(metavar=metavar)]
    command.__doc__ = doc
    sub.command(name)(command)


def _in_room(
    sub: typer.Typer, name: str, doc: str, call: Callable[[Client, str, str], Any]
) -> None:
    """A command on one room."""

    def command(
        room: RoomArg, org: OrgOption = None, url: UrlOption = None, as_json: JsonFlag = False
    ) -> None:
        _run(url, as_json, lambda c: call(c, _org(c, org), room))

    command.__doc__ = doc
    sub.command(name)(command)


def _to_participant(
    sub: typer.Typer, name: str, doc: str, call: Callable[[Client, str, str, str], Any]
) -> None:
    """A command on one participant of a room."""

    def command(
        room: RoomArg,
        participant: WhoArg,
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        _run(url, as_json, lambda c: call(c, _org(c, org), room, participant))

    command.__doc__ = doc
    sub.command(name)(command)


def _orgs() -> typer.Typer:
    sub = typer.Typer(help="Orgs of the platform (platform:admin).", no_args_is_help=True)

    @sub.command("create")
    def create(
        name: str,
        namespace: Annotated[list[str] | None, typer.Option(help="A namespace root.")] = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """A new org and its first admin key (shown once)."""
        _run(url, as_json, lambda c: c.orgs.create(name=name, namespaces=namespace or None))

    @sub.command("list")
    def list_(url: UrlOption = None, as_json: JsonFlag = False) -> None:
        """Every org."""
        _run(url, as_json, lambda c: c.orgs.list())

    @sub.command("disable")
    def disable(org_id: str, url: UrlOption = None, as_json: JsonFlag = False) -> None:
        """Refuse an org's keys and tokens and cut its sessions."""
        _run(url, as_json, lambda c: c.orgs.disable(org_id=org_id))

    @sub.command("set-limits")
    def set_limits(
        org_id: str,
        max_sessions: LimitOption = None,
        connects_per_second: LimitOption = None,
        mints_per_minute: LimitOption = None,
        session_minutes_per_month: LimitOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Replace an org's quotas (each left out is lifted); live sessions stay."""
        _run(url, as_json, lambda c: c.orgs.set_limits(
            org_id=org_id, max_sessions=max_sessions, connects_per_second=connects_per_second,
            mints_per_minute=mints_per_minute,
            session_minutes_per_month=session_minutes_per_month))  # fmt: skip

    @sub.command("limits")
    def limits(org: OrgOption = None, url: UrlOption = None, as_json: JsonFlag = False) -> None:
        """An org's quotas (null: no limit)."""
        _run(url, as_json, lambda c: c.orgs.limits(org_id=_org(c, org)))

    return sub


def _tenants() -> typer.Typer:
    sub = typer.Typer(help="Tenants of your org.", no_args_is_help=True)

    @sub.command("create")
    def create(
        tenant_id: str,
        label: Annotated[str, typer.Option(help="A display name.")] = "",
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """A tenant."""
        _run(
            url,
            as_json,
            lambda c: c.tenants.create(org_id=_org(c, org), tenant_id=tenant_id, label=label),
        )

    _listing(sub, "The org's tenants.", lambda c, org: c.tenants.list(org_id=org))
    _by_id(sub, "disable", "tenant_id", "Refuse a tenant's mints and cut its sessions.",
           lambda c, org, tenant: c.tenants.disable(org_id=org, tenant_id=tenant))  # fmt: skip

    return sub


def _api_keys() -> typer.Typer:
    sub = typer.Typer(help="API keys of your org.", no_args_is_help=True)

    @sub.command("create")
    def create(
        label: str,
        scope: Annotated[list[str], typer.Option(help="keys:admin, tokens:mint, audit:read.")],
        environment: Annotated[str, typer.Option(help="live or test.")] = "live",
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """A key (shown once)."""
        _run(url, as_json, lambda c: c.streams.api_keys.create(
            org_id=_org(c, org), label=label, scopes=scope, environment=environment))  # fmt: skip

    _listing(sub, "The org's keys (never their secrets).",
             lambda c, org: c.streams.api_keys.list(org_id=org))  # fmt: skip
    _by_id(sub, "revoke", "key_id", "Revoke a key now.",
           lambda c, org, key: c.streams.api_keys.revoke(org_id=org, id=key))  # fmt: skip

    @sub.command("reroll")
    def reroll(
        key_id: str,
        grace_seconds: Annotated[int, typer.Option(help="The old key works this long.")] = 0,
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Replace a key (the new one is shown once)."""
        _run(url, as_json, lambda c: c.streams.api_keys.reroll(
            org_id=_org(c, org), id=key_id, grace_seconds=grace_seconds))  # fmt: skip

    return sub


def _signing_keys() -> typer.Typer:
    sub = typer.Typer(help="Signing keys of your org.", no_args_is_help=True)

    @sub.command("create")
    def create(
        label: str,
        algorithm: Annotated[
            str, typer.Option(help="EdDSA, ES256, ES384, RS256, PS256.")
        ] = "EdDSA",
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """A key; it signs once gates have had time to learn it."""
        _run(url, as_json, lambda c: c.streams.signing_keys.create(
            org_id=_org(c, org), label=label, algorithm=algorithm))  # fmt: skip

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
    def publish(
        tenant: Annotated[str, typer.Option(help="The tenant.")],
        kid: Annotated[str, typer.Option(help="The private_key_id.")],
        public_key: Annotated[Path, typer.Option(help="The RSA public key (PEM file).")],
        role: Annotated[str, typer.Option(help="sdk or admin.")] = "sdk",
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Register a tenant's public key."""
        pem = public_key.read_text()
        _run(url, as_json, lambda c: c.publish_service_account(
            tenant_id=tenant, private_key_id=kid, public_key_pem=pem, role=role))  # fmt: skip

    @sub.command("revoke")
    def revoke(
        tenant: Annotated[str, typer.Option(help="The tenant.")],
        kid: Annotated[str, typer.Option(help="The private_key_id.")],
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Stop accepting a key; gates cut its sessions."""
        _run(url, as_json, lambda c: c.revoke_service_account(tenant_id=tenant, private_key_id=kid))

    @sub.command("list")
    def list_(
        tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Registered service-account keys."""
        _run(url, as_json, lambda c: c.service_accounts.list(org_id=_org(c, org), tenant_id=tenant))

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
    def participants(
        room: RoomArg,
        tier: Annotated[
            Tier | None, typer.Option(help="speaker or viewer (all when left out).")
        ] = None,
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Who is in a room on every gate: tier, lobby state, grant."""
        _run(url, as_json, lambda c: c.rooms.participants.list(
            org_id=_org(c, org), room_id=room, tier=tier.value if tier else None))  # fmt: skip

    _to_participant(sub, "admit", "Admit a waiting participant.",
                    lambda c, org, room, who: c.rooms.lobby.admit(org_id=org, room_id=room,
                                                         participant_id=who))  # fmt: skip

    _to_participant(sub, "deny", "Turn a waiting participant away.",
                    lambda c, org, room, who: c.rooms.lobby.deny(org_id=org, room_id=room,
                                                         participant_id=who))  # fmt: skip

    _in_room(sub, "admit-all", "Admit everyone waiting.",
             lambda c, org, room: c.rooms.lobby.admit_all(org_id=org, room_id=room))  # fmt: skip

    @sub.command("update")
    def update(
        room: RoomArg,
        participant: WhoArg,
        grant: Annotated[str | None, typer.Option(help="The new grant, as JSON flags.")] = None,
        viewer: Annotated[bool | None, typer.Option("--viewer/--speaker", help="The tier.")] = None,
        org: OrgOption = None,
        url: UrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Push a new grant and/or tier to the participant's live sessions."""
        flags = json.loads(grant) if grant else None
        _run(url, as_json, lambda c: c.rooms.participants.update(
            org_id=_org(c, org), room_id=room, participant_id=participant, grant=flags,
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
    def relay(
        ns: Annotated[list[str], typer.Option(help="A namespace pattern (repeat).")],
        tenant: Annotated[
            str, typer.Option(help="The tenant (default: the org's 'default' tenant).")
        ] = "default",
        ttl: Ttl = None,
        org: OrgOption = None,
        url: UrlOption = None,
        token_only: TokenOnly = False,
        as_json: JsonFlag = False,
    ) -> None:
        """A relay token."""
        _run(url, as_json, lambda c: c.tokens.relay.mint(
            org_id=_org(c, org), tenant=tenant, ns=ns, ttl_seconds=ttl),
            token_only=token_only)  # fmt: skip

    @sub.command("moq")
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
        org: OrgOption = None,
        url: UrlOption = None,
        token_only: TokenOnly = False,
        as_json: JsonFlag = False,
    ) -> None:
        """A moq token (moq-token's claims, or moq-auth's)."""
        _run(url, as_json, lambda c: c.tokens.moq.mint(
            org_id=_org(c, org), root=root, publish=publish, subscribe=subscribe,
            ttl_seconds=ttl or 3600, format=wire), token_only=token_only)  # fmt: skip

    @sub.command("room")
    def room(
        room_id: Annotated[str, typer.Option("--room", help="The room.")],
        participant: Annotated[str, typer.Option(help="The participant.")],
        role: Annotated[str, typer.Option(help="host, speaker or viewer.")] = "speaker",
        ttl: Ttl = None,
        org: OrgOption = None,
        url: UrlOption = None,
        token_only: TokenOnly = False,
        as_json: JsonFlag = False,
    ) -> None:
        """A room token (VideoSDK)."""
        _run(url, as_json, lambda c: c.tokens.room.mint(
            org_id=_org(c, org), room_id=room_id, participant_id=participant, role=role,
            ttl_seconds=ttl), token_only=token_only)  # fmt: skip

    return sub
