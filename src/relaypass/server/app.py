"""The control-plane HTTP service.

Procedures are ``POST /rpc/<name>`` with a JSON body, named as the seeds name
them (``streams.apiKeys.create``, ``streams.signingKeys.mintPlaybackToken``,
``voice.audioBridge.mintBrowserToken``, ...). Every call authenticates with an
API key (``Authorization: Bearer <key>``) whose scopes must include the
procedure's. Errors are RFC 7807 ``application/problem+json`` carrying the
stable code.
"""

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from relaypass import __version__
from relaypass._alg import Algorithm
from relaypass._apikeys import ApiKeyHasher
from relaypass._tokens import Minter, decode_unverified
from relaypass.errors import (
    ClaimsError,
    ErrorCode,
    InvalidApiKeyError,
    InvalidPermissionsError,
    InvalidRequestError,
    RateLimitedError,
    RelaypassError,
    UnauthorizedPathError,
    UnavailableError,
)
from relaypass.profiles.algorithms import profiles_for
from relaypass.profiles.moq import MoqClaims
from relaypass.profiles.relay import RelayMinter
from relaypass.profiles.room import JoinPolicy, RoomClaims, RoomGrantFlags, RoomMinter, role_preset
from relaypass.profiles.session import SessionMinter
from relaypass.server import logging as rlog
from relaypass.server.db.store import ApiKeyRecord, Store, make_engine
from relaypass.server.limits import PROCEDURE, RequestLimits
from relaypass.server.outbox import OutboxRelay
from relaypass.server.procedures.tenancy import TenancyContext, add_tenancy_procedures
from relaypass.server.publish import RedisPublisher
from relaypass.server.ratelimit import InProcessLimiter, RateLimiter, RedisLimiter
from relaypass.server.secrets import KeyEncryptionKey, load_or_create_secret
from relaypass.server.settings import Settings

__all__ = ["ALL_SCOPES", "ORG_SCOPES", "Scope", "create_app", "open_store"]


class Scope:
    """Capability scopes an API key may hold.

    ``platform:admin`` is the platform operator's: it creates, lists and
    disables orgs, and nothing else. An org's own keys hold the other three.
    """

    KEYS_ADMIN = "keys:admin"
    TOKENS_MINT = "tokens:mint"
    AUDIT_READ = "audit:read"
    PLATFORM_ADMIN = "platform:admin"


ORG_SCOPES: Final = (Scope.KEYS_ADMIN, Scope.TOKENS_MINT, Scope.AUDIT_READ)
ALL_SCOPES: Final = (*ORG_SCOPES, Scope.PLATFORM_ADMIN)
_PROBLEM: Final = "application/problem+json"
_PUBLIC_ONLY: Final = {ErrorCode.INVALID_TOKEN, ErrorCode.INVALID_API_KEY}


def open_store(settings: Settings) -> Store:
    """The store for these settings, migrated."""
    data_dir = settings.data_dir
    kek = KeyEncryptionKey(load_or_create_secret(settings.kek, data_dir / "kek.key"))
    pepper = load_or_create_secret(settings.api_key_pepper, data_dir / "pepper.key")
    store = Store(
        make_engine(settings.resolved_database_url()),
        kek=kek,
        hasher=ApiKeyHasher(pepper),
        api_key_prefix=settings.api_key_prefix,
        key_propagation_seconds=settings.key_propagation_seconds,
        max_token_ttl_seconds=settings.max_token_ttl_seconds,
        max_keys_per_org=settings.max_keys_per_org,
    )
    store.migrate()
    store.check_secrets(pepper)  # a replica with other secrets refuses to start
    return store


def problem(code: ErrorCode, status: int, detail: str, **extra: object) -> JSONResponse:
    """An RFC 7807 body with the stable code."""
    body: dict[str, object] = {
        "type": f"https://relaypass.dev/errors/{code.value.lower()}",
        "title": code.value,
        "status": status,
        "code": code.value,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=_PROBLEM)


# ------------------------------------------------------------------ bodies


class ApiKeyCreate(BaseModel):
    """``streams.apiKeys.create({ orgId, label, scopes })``."""

    orgId: str = Field(max_length=64)  # noqa: N815 - the seed's wire name
    label: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(max_length=16)
    environment: str = Field(default="live", pattern="^(live|test)$")
    expiresAtMs: int | None = Field(default=None, ge=0)  # noqa: N815


class ApiKeyRef(BaseModel):
    """A key of an org."""

    orgId: str = Field(max_length=64)  # noqa: N815
    id: str = Field(max_length=64)


class ApiKeyReroll(ApiKeyRef):
    """Reroll with a grace period."""

    graceSeconds: int = Field(default=0, ge=0, le=604_800)  # noqa: N815


class OrgRef(BaseModel):
    """An org."""

    orgId: str = Field(max_length=64)  # noqa: N815


class SigningKeyCreate(BaseModel):
    """``streams.signingKeys.create({ orgId, label })``."""

    orgId: str = Field(max_length=64)  # noqa: N815
    label: str = Field(min_length=1, max_length=200)
    algorithm: str | None = Field(default=None, pattern="^(EdDSA|ES256|ES384|RS256|PS256)$")
    alg: str | None = Field(
        default=None,
        pattern="^(EdDSA|ES256|ES384|RS256|PS256)$",
        description="Earlier name of `algorithm`.",
    )


class SigningKeyRef(BaseModel):
    """``streams.signingKeys.retire({ id })`` (``id`` is the kid)."""

    orgId: str = Field(max_length=64)  # noqa: N815
    id: str = Field(max_length=128)


class RelayMint(BaseModel):
    """A relay token for a tenant and namespaces."""

    orgId: str = Field(max_length=64)  # noqa: N815
    tenant: str = Field(max_length=256)
    ns: list[str] = Field(min_length=1, max_length=256)
    ttlSeconds: int | None = Field(default=None, ge=1)  # noqa: N815
    service: bool = False


class PlaybackMint(BaseModel):
    """``mintPlaybackToken({ inputId, scopes, ttlSeconds })``."""

    orgId: str = Field(max_length=64)  # noqa: N815
    tenant: str = Field(max_length=256)
    inputId: str = Field(max_length=256)  # noqa: N815
    scopes: list[str] | None = Field(default=None, max_length=32)
    ttlSeconds: int = Field(default=3600, ge=1)  # noqa: N815


class BrowserVoiceMint(BaseModel):
    """``mintBrowserToken({ callSid, ttlSeconds })``."""

    orgId: str = Field(max_length=64)  # noqa: N815
    tenant: str = Field(max_length=256)
    callSid: str = Field(max_length=256)  # noqa: N815
    ttlSeconds: int = Field(default=1800, ge=1)  # noqa: N815


class PublishServiceAccountRequest(BaseModel):
    """Seed 003 ``PublishServiceAccount``, field for field."""

    admin_token: str = Field(default="", max_length=8192)
    tenant_id: str = Field(max_length=256)
    private_key_id: str = Field(max_length=128)
    public_key_pem: str = Field(max_length=4096)
    role: str = Field(pattern="^(sdk|admin)$")
    expires_at_ms: int = Field(default=0, ge=0)


class RevokeServiceAccountRequest(BaseModel):
    """Seed 003 ``RevokeServiceAccount``."""

    admin_token: str = Field(default="", max_length=8192)
    tenant_id: str = Field(max_length=256)
    private_key_id: str = Field(max_length=128)


class SessionAuthRequest(BaseModel):
    """Seed 003 ``SessionAuthRequest`` (``origin`` defaults to the request's Origin header)."""

    admin_token: str = Field(default="", max_length=8192)
    tenant_id: str = Field(max_length=256)
    subject: str = Field(max_length=256)
    ttl_seconds: int
    scope: str = Field(max_length=2048)
    origin: str | None = Field(default=None, max_length=256)


class RoomMint(BaseModel):
    """A room token (seed 004); ``iss`` is the calling API key's id."""

    orgId: str = Field(max_length=64)  # noqa: N815
    roomId: str | None = Field(default=None, max_length=256)  # noqa: N815
    participantId: str | None = Field(default=None, max_length=256)  # noqa: N815
    role: str | None = Field(default=None, pattern="^(host|speaker|viewer)$")
    grant: dict[str, Any] | None = None
    isViewer: bool | None = None  # noqa: N815
    joinPolicy: dict[str, Any] | None = None  # noqa: N815
    ttlSeconds: int | None = Field(default=None, ge=1)  # noqa: N815


class MoqMint(BaseModel):
    """A moq token: ``root``, ``put``, ``get`` (and ``cluster``)."""

    orgId: str = Field(max_length=64)  # noqa: N815
    root: str = Field(default="", max_length=1024)
    publish: list[str] = Field(default_factory=list, max_length=256)
    subscribe: list[str] = Field(default_factory=list, max_length=256)
    cluster: bool = False
    ttlSeconds: int = Field(default=3600, ge=1)  # noqa: N815


class TokenRef(BaseModel):
    """One minted token, by its ``jti``."""

    orgId: str = Field(max_length=64)  # noqa: N815
    jti: str = Field(min_length=1, max_length=128, pattern="^[A-Za-z0-9_-]+$")


class AuditQuery(BaseModel):
    """Filter the audit log."""

    orgId: str = Field(max_length=64)  # noqa: N815
    action: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=100, ge=1, le=1000)


# --------------------------------------------------------------------- app


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:  # noqa: C901, PLR0915 - one place lists every route
    """Build the service; the store is opened from settings unless given."""
    settings = settings or Settings()
    store = store or open_store(settings)
    log = rlog.get_logger()
    registry = CollectorRegistry()
    requests = Counter(
        "relaypass_requests",
        "Requests by procedure and outcome",
        ["procedure", "code"],
        registry=registry,
    )
    latency = Histogram(
        "relaypass_request_seconds", "Request latency", ["procedure"], registry=registry
    )
    mints = Counter("relaypass_tokens_minted", "Tokens minted by kind", ["kind"], registry=registry)
    limiter_fallbacks = Counter(
        "relaypass_ratelimit_fallbacks",
        "Rate-limit checks counted in process because Redis was unreachable",
        registry=registry,
    )

    publisher = (
        RedisPublisher(settings.redis_url, prefix=settings.redis_prefix)
        if settings.redis_url
        else None
    )

    relay = OutboxRelay(store, publisher, log=log) if publisher is not None else None

    def published() -> bool | None:
        """Push committed changes to Redis now; whether they got there (``None``: no Redis).

        Never raises: a change that was committed is answered with success, and the
        outbox relay keeps retrying in the background while Redis is away.
        """
        return relay.flush() if relay is not None else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:  # noqa: ANN401 - async generator context
        if relay is not None:
            relay.start()
        yield
        if relay is not None:
            await asyncio.to_thread(relay.close)
        if publisher is not None:
            publisher.close()
        store.close()

    app = FastAPI(
        title="relaypass control plane",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.store = store
    app.state.outbox = relay

    async def check_api_key(text: str) -> object:
        return store.verify_api_key(text)

    app.add_middleware(
        RequestLimits, max_body_bytes=settings.max_body_bytes, check_api_key=check_api_key
    )

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        # Only declared procedures become label values: junk paths cannot grow the series.
        name = request.url.path.removeprefix("/rpc/")
        if request.url.path.startswith("/rpc/"):
            procedure = name if name in known_procedures() else "unknown"
        else:
            procedure = "other"
        latency.labels(procedure).observe(time.perf_counter() - started)
        requests.labels(procedure, str(response.status_code)).inc()
        return response

    @functools.cache
    def known_procedures() -> frozenset[str]:
        return frozenset(
            route.path.removeprefix("/rpc/")
            for route in app.routes
            if isinstance(route, APIRoute) and route.path.startswith("/rpc/")
        )

    @app.exception_handler(RelaypassError)
    async def relaypass_error(request: Request, exc: RelaypassError) -> JSONResponse:
        log.info("refused", path=request.url.path, code=exc.code.value, reason=exc.reason)
        detail = exc.public_message if exc.code in _PUBLIC_ONLY else exc.reason
        response = problem(exc.code, exc.http_status, detail)
        if isinstance(exc, RateLimitedError):
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response

    @app.exception_handler(UnavailableError)
    async def unavailable(request: Request, exc: UnavailableError) -> JSONResponse:
        log.warning("unavailable", path=request.url.path, reason=exc.reason)
        response = problem(exc.code, 503, exc.public_message)
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response

    @app.exception_handler(SQLAlchemyError)
    async def database_down(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Nothing was answered as done: a write that failed rolled back with its transaction.
        log.warning("unavailable", path=request.url.path, error=type(exc).__name__)
        response = problem(ErrorCode.UNAVAILABLE, 503, "the database is unreachable; retry")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: ErrorCode.UNKNOWN_PROCEDURE,
            405: ErrorCode.METHOD_NOT_ALLOWED,
            413: ErrorCode.REQUEST_TOO_LARGE,
        }.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        response = problem(code, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()]
        log.info("refused", path=request.url.path, code="INVALID_REQUEST", fields=fields)
        return problem(
            ErrorCode.INVALID_REQUEST, 400, "the request body is not valid", fields=fields
        )

    async def caller(authorization: Annotated[str | None, Header()] = None) -> ApiKeyRecord:
        if authorization is None or not authorization.startswith("Bearer "):
            msg = "missing bearer API key"
            raise InvalidApiKeyError(msg)
        return store.verify_api_key(authorization.removeprefix("Bearer ").strip())

    def require(scope: str) -> Callable[..., Awaitable[ApiKeyRecord]]:
        async def check(record: Annotated[ApiKeyRecord, Depends(caller)]) -> ApiKeyRecord:
            if scope not in record.scopes:
                msg = f"the API key lacks the {scope} scope"
                raise InvalidPermissionsError(msg)
            return record

        return check

    def same_org(record: ApiKeyRecord, org_id: str, procedure: str = "") -> None:
        """Refuse naming another org; the attempt goes into that org's audit log."""
        if record.org_id != org_id:
            store.record_denied(org_id, record, procedure or PROCEDURE.get())
            msg = "the API key belongs to another org"
            raise InvalidPermissionsError(msg)

    admin = Annotated[ApiKeyRecord, Depends(require(Scope.KEYS_ADMIN))]
    limiter: RateLimiter | None = None
    if settings.mint_rate_per_minute:
        limiter = (
            RedisLimiter(
                settings.redis_url,
                settings.mint_rate_per_minute,
                prefix=settings.redis_prefix,
                clock=store.clock.now,
                on_fallback=limiter_fallbacks.inc,
            )
            if settings.redis_url
            else InProcessLimiter(settings.mint_rate_per_minute, clock=store.clock.now)
        )

    async def mint_allowed(
        record: Annotated[ApiKeyRecord, Depends(require(Scope.TOKENS_MINT))],
    ) -> ApiKeyRecord:
        if limiter is not None:
            limiter.hit(record.id)
        return record

    minter = Annotated[ApiKeyRecord, Depends(mint_allowed)]
    add_tenancy_procedures(
        app,
        TenancyContext(
            store=store,
            published=published,
            platform=require(Scope.PLATFORM_ADMIN),
            admin=require(Scope.KEYS_ADMIN),
            same_org=same_org,
            org_scopes=ORG_SCOPES,
        ),
    )
    auditor = Annotated[ApiKeyRecord, Depends(require(Scope.AUDIT_READ))]
    idem = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]

    # ----------------------------------------------------------- operations

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Ready when the database answers and, with Redis configured, Redis does too.

        (A replica whose key-encryption key or pepper differs from the database's
        never gets this far: it refuses to start.)
        """
        checks: dict[str, str] = {}
        try:
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:  # noqa: BLE001 - any failure means not ready
            checks["database"] = "unreachable"
        if publisher is not None:
            try:
                publisher.ping()
                checks["redis"] = "ok"
            except Exception:  # noqa: BLE001 - any failure means not ready
                checks["redis"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/.well-known/jwks.json")
    def jwks() -> JSONResponse:
        """Every org's published public keys (pending, active, retiring)."""
        return JSONResponse(
            store.published_keys().to_jwks(), headers={"Cache-Control": "public, max-age=30"}
        )

    @app.get("/orgs/{org_id}/jwks.json")
    def org_jwks(org_id: str) -> JSONResponse:
        """One org's public keys and live issuers: what a gate that serves only it follows."""
        if len(org_id) > 64:  # noqa: PLR2004 - the column size
            return JSONResponse({"keys": []}, status_code=404)
        return JSONResponse(
            store.published_keys(org_id).to_jwks(), headers={"Cache-Control": "public, max-age=30"}
        )

    @app.post("/rpc/auth.whoami")
    def whoami(who: Annotated[ApiKeyRecord, Depends(caller)]) -> dict[str, Any]:
        """The org, key id and scopes of the calling API key, and the org's namespaces."""
        org = store.get_org(who.org_id)
        return {
            "orgId": who.org_id,
            "keyId": who.id,
            "scopes": list(who.scopes),
            "namespaces": org["namespaces"],
        }

    # ------------------------------------------------------------- API keys

    @app.post("/rpc/streams.apiKeys.create")
    def api_keys_create(
        body: ApiKeyCreate, who: admin, idempotency_key: idem = None
    ) -> dict[str, Any]:
        """Create a key; the key string is in this response only."""
        same_org(who, body.orgId, "streams.apiKeys.create")
        unknown = set(body.scopes) - set(ALL_SCOPES)
        if unknown:
            return problem(ErrorCode.INVALID_REQUEST, 400, f"unknown scopes: {sorted(unknown)}")  # type: ignore[return-value]
        if not set(body.scopes) <= set(who.scopes):
            msg = "a key can only grant scopes it holds itself"
            raise InvalidPermissionsError(msg)
        record, secret = store.create_api_key(
            body.orgId,
            body.label,
            body.scopes,
            actor=who.id,
            environment=body.environment,
            expires_at_ms=body.expiresAtMs,
            idempotency_key=idempotency_key,
        )
        return {
            "id": record.id,
            "key": secret,
            "scopes": list(record.scopes),
            "label": record.label,
            "published": published(),  # a minting key joins the gates' issuer registry
        }

    @app.post("/rpc/streams.apiKeys.list")
    def api_keys_list(body: OrgRef, who: admin) -> dict[str, Any]:
        same_org(who, body.orgId)
        return {"keys": store.list_api_keys(body.orgId)}

    @app.post("/rpc/streams.apiKeys.revoke")
    def api_keys_revoke(body: ApiKeyRef, who: admin) -> dict[str, Any]:
        """Revoke now; gates cut the room sessions its tokens opened."""
        same_org(who, body.orgId, "streams.apiKeys.revoke")
        store.revoke_api_key(body.orgId, body.id, actor=who.id)
        return {"revoked": body.id, "published": published()}

    @app.post("/rpc/streams.apiKeys.reroll")
    def api_keys_reroll(body: ApiKeyReroll, who: admin) -> dict[str, Any]:
        same_org(who, body.orgId)
        record, secret = store.reroll_api_key(
            body.orgId, body.id, grace_seconds=body.graceSeconds, actor=who.id
        )
        published()
        return {
            "id": record.id,
            "key": secret,
            "replaces": body.id,
            "graceSeconds": body.graceSeconds,
        }

    # --------------------------------------------------------- signing keys

    @app.post("/rpc/streams.signingKeys.create")
    def signing_keys_create(
        body: SigningKeyCreate, who: admin, idempotency_key: idem = None
    ) -> dict[str, Any]:
        same_org(who, body.orgId)
        algorithm = Algorithm(body.algorithm or body.alg or "EdDSA")
        created = store.create_signing_key(
            body.orgId,
            body.label,
            alg=algorithm,
            actor=who.id,
            idempotency_key=idempotency_key,
        )
        return {
            "id": created["kid"],
            "state": "pending",
            "algorithm": algorithm.value,
            "profiles": profiles_for(algorithm),
            "signsAfterSeconds": settings.key_propagation_seconds,
            "published": published(),
        }

    @app.post("/rpc/streams.signingKeys.list")
    def signing_keys_list(body: OrgRef, who: admin) -> dict[str, Any]:
        same_org(who, body.orgId)
        return {"keys": store.list_signing_keys(body.orgId)}

    @app.post("/rpc/streams.signingKeys.retire")
    def signing_keys_retire(body: SigningKeyRef, who: admin) -> dict[str, Any]:
        same_org(who, body.orgId)
        store.retire_signing_key(body.orgId, body.id, actor=who.id)
        return {"retired": body.id, "published": published()}

    @app.post("/rpc/streams.signingKeys.revoke")
    def signing_keys_revoke(body: SigningKeyRef, who: admin) -> dict[str, Any]:
        same_org(who, body.orgId)
        store.revoke_signing_key(body.orgId, body.id, actor=who.id)
        return {"revoked": body.id, "published": published()}

    # -------------------------------------------------------------- minting

    def relay_minter(org_id: str) -> RelayMinter:
        return RelayMinter(
            store.active_signing_key(org_id, "relay"),
            issuer="relaypass",
            max_service_ttl_seconds=settings.max_token_ttl_seconds,
            clock=store.clock,
        )

    def minted(kind: str, who: ApiKeyRecord, token: str, detail: dict[str, Any]) -> JSONResponse:
        """Audit the mint and answer (a prepared response: no second validation pass)."""
        kid, claims = decode_unverified(token)
        mints.labels(kind).inc()
        store.record(
            who.org_id,
            who.id,
            "token.mint",
            kind,
            {"kid": kid, "jti": claims.get("jti"), "exp": claims.get("exp"), **detail},
        )
        return JSONResponse({"token": token, "expiresAt": claims.get("exp"), "kid": kid})

    def inside_org(org_id: str, publish: list[str], subscribe: list[str]) -> None:
        """Refuse namespaces outside the org's space (``INVALID_PERMISSIONS``)."""
        try:
            store.org_scope(org_id).check(publish, subscribe)
        except UnauthorizedPathError:
            msg = "the namespaces lie outside the org's namespace space"
            raise InvalidPermissionsError(msg) from None

    def org_root(org_id: str) -> str:
        """Where seed-000 defaults (``playback/…``, ``voice/…``) live for this org."""
        roots = store.org_scope(org_id).roots
        return "/".join(roots[0]) if roots else ""

    def relay_token(org_id: str, tenant: str, mint: Callable[[RelayMinter], str]) -> str:
        try:
            store.require_tenant(org_id, tenant)
        except InvalidPermissionsError:
            store.record_denied_on_tenant(tenant, org_id, "api key", PROCEDURE.get())
            raise
        token = mint(relay_minter(org_id))
        _, claims = decode_unverified(token)
        ns = claims.get("ns")
        patterns = [str(p) for p in ns] if isinstance(ns, list) else []
        inside_org(org_id, patterns, patterns)
        return token

    @app.post("/rpc/tokens.relay.mint")
    async def mint_relay(body: RelayMint, who: minter) -> JSONResponse:
        same_org(who, body.orgId)
        token = relay_token(
            body.orgId,
            body.tenant,
            lambda m: m.mint(
                body.tenant, body.ns, ttl_seconds=body.ttlSeconds, service=body.service
            ),
        )
        return minted("relay", who, token, {"tenant": body.tenant, "ns": body.ns})

    @app.post("/rpc/streams.signingKeys.mintPlaybackToken")
    async def mint_playback(body: PlaybackMint, who: minter) -> JSONResponse:
        same_org(who, body.orgId)
        root = org_root(body.orgId)
        token = relay_token(
            body.orgId,
            body.tenant,
            lambda m: m.mint_playback_token(
                body.tenant,
                body.inputId,
                scopes=body.scopes,
                ttl_seconds=body.ttlSeconds,
                root=root,
            ),
        )
        return minted("playback", who, token, {"tenant": body.tenant, "inputId": body.inputId})

    @app.post("/rpc/voice.audioBridge.mintBrowserToken")
    async def mint_browser_voice(body: BrowserVoiceMint, who: minter) -> JSONResponse:
        same_org(who, body.orgId)
        root = org_root(body.orgId)
        token = relay_token(
            body.orgId,
            body.tenant,
            lambda m: m.mint_browser_token(
                body.tenant, body.callSid, ttl_seconds=body.ttlSeconds, root=root
            ),
        )
        return minted("browser_voice", who, token, {"tenant": body.tenant, "callSid": body.callSid})

    @app.post("/rpc/tokens.room.mint")
    async def mint_room(body: RoomMint, who: minter) -> JSONResponse:
        """Room token with guardrails; a ``role`` expands to its preset grant."""
        same_org(who, body.orgId)
        if body.role is not None:
            flags, is_viewer = role_preset(body.role)
        elif body.grant is not None:
            flags, is_viewer = RoomGrantFlags.from_wire(body.grant), False
        else:
            msg = "give a role or a grant"
            raise InvalidRequestError(msg)
        claims = RoomClaims(
            grant=flags,
            room_id=body.roomId,
            participant_id=body.participantId,
            is_viewer=body.isViewer if body.isViewer is not None else is_viewer,
            join_policy=JoinPolicy.from_wire(body.joinPolicy) if body.joinPolicy else JoinPolicy(),
        )
        room_minter = RoomMinter(
            who.id, store.active_signing_key(body.orgId, "room"), clock=store.clock
        )
        token = room_minter.mint(claims, ttl_seconds=body.ttlSeconds)
        return minted("room", who, token, {"roomId": body.roomId})

    @app.post("/rpc/tokens.moq.mint")
    async def mint_moq(body: MoqMint, who: minter) -> JSONResponse:
        """Moq token in moq-token's wire format, signed with the org's active key."""
        same_org(who, body.orgId)
        wire = MoqClaims(
            root=body.root,
            publish=tuple(body.publish),
            subscribe=tuple(body.subscribe),
            cluster=body.cluster,
        ).to_wire()
        try:
            claims = MoqClaims.from_wire(wire)  # the same checks a verifier applies
        except ClaimsError as exc:
            raise InvalidRequestError(exc.reason) from None
        inside_org(body.orgId, *claims.claimed_paths())
        key = store.active_signing_key(body.orgId, "moq")
        ttl = min(body.ttlSeconds, settings.max_token_ttl_seconds)
        token = Minter(key, default_ttl_seconds=ttl, max_ttl_seconds=ttl, clock=store.clock).mint(
            wire
        )
        return minted("moq", who, token, {"root": body.root})

    # ------------------------------------------------ service accounts (seed 003)

    def service_admin(
        admin_token: str, tenant_id: str, authorization: str | None
    ) -> tuple[str, str]:
        """The org and actor: an admin service account of this tenant, or a keys:admin key.

        Either way the tenant must belong to that org; a seed-003 admin JWT acts
        only within its own tenant.
        """
        if admin_token:
            org_id, identity = store.verify_service_account(admin_token)
            actor = f"sa:{identity.tenant_id}/{identity.private_key_id}"
            if identity.role != "admin" or identity.tenant_id != tenant_id:
                if identity.tenant_id != tenant_id:
                    store.record_denied_on_tenant(tenant_id, org_id, actor, PROCEDURE.get())
                msg = "admin_token is not an admin of this tenant"
                raise InvalidPermissionsError(msg)
            return org_id, actor
        if authorization is None or not authorization.startswith("Bearer "):
            msg = "missing admin_token or bearer API key"
            raise InvalidApiKeyError(msg)
        record = store.verify_api_key(authorization.removeprefix("Bearer ").strip())
        if Scope.KEYS_ADMIN not in record.scopes:
            msg = f"the API key lacks the {Scope.KEYS_ADMIN} scope"
            raise InvalidPermissionsError(msg)
        try:
            store.require_tenant(record.org_id, tenant_id)
        except InvalidPermissionsError:
            store.record_denied_on_tenant(tenant_id, record.org_id, record.id, PROCEDURE.get())
            raise
        return record.org_id, record.id

    auth_header = Annotated[str | None, Header(alias="Authorization")]

    @app.post("/rpc/PublishServiceAccount")
    def publish_service_account(
        body: PublishServiceAccountRequest, authorization: auth_header = None
    ) -> dict[str, Any]:
        """Register a tenant's public key; several may coexist during a rotation."""
        org_id, actor = service_admin(body.admin_token, body.tenant_id, authorization)
        store.publish_service_account(
            org_id,
            body.tenant_id,
            body.private_key_id,
            body.public_key_pem,
            role=body.role,
            expires_at_ms=body.expires_at_ms,
            actor=actor,
        )
        published()  # gates learn the key (seed 003's answer stays empty)
        return {}

    @app.post("/rpc/RevokeServiceAccount")
    def revoke_service_account(
        body: RevokeServiceAccountRequest, authorization: auth_header = None
    ) -> dict[str, Any]:
        """Stop accepting the kid; gates cut live sessions authenticated with it."""
        org_id, actor = service_admin(body.admin_token, body.tenant_id, authorization)
        store.revoke_service_account(org_id, body.tenant_id, body.private_key_id, actor=actor)
        published()
        return {}

    @app.post("/rpc/SessionAuth")
    def session_auth(
        body: SessionAuthRequest,
        authorization: auth_header = None,
        origin: Annotated[str | None, Header(alias="Origin")] = None,
    ) -> dict[str, Any]:
        """A browser-scoped token (TTL hard-capped at 300 s), pinned to an origin."""
        org_id, actor = service_admin(body.admin_token, body.tenant_id, authorization)
        signer = SessionMinter(store.active_signing_key(org_id, "session"), clock=store.clock)
        response = signer.session_auth(
            tenant_id=body.tenant_id,
            subject=body.subject,
            ttl_seconds=body.ttl_seconds,
            scope=body.scope,
            origin=body.origin or origin or "",
        )
        if response.token:
            store.record(
                org_id,
                actor,
                "token.mint",
                "session",
                {
                    "tenant": body.tenant_id,
                    "scope": body.scope,
                    "expires_at_ms": response.expires_at_ms,
                },
            )
        return {
            "token": response.token,
            "expires_at_ms": response.expires_at_ms,
            "error_message": response.error_message,
        }

    @app.post("/rpc/tokens.revoke")
    def tokens_revoke(body: TokenRef, who: admin) -> dict[str, Any]:
        """Revoke one token by its ``jti``: gates cut its live sessions and refuse it."""
        same_org(who, body.orgId)
        store.revoke_token(body.orgId, body.jti, actor=who.id)
        return {"revoked": body.jti, "published": published()}

    # ----------------------------------------------------------------- audit

    @app.post("/rpc/audit.list")
    def audit_list(body: AuditQuery, who: auditor) -> dict[str, Any]:
        same_org(who, body.orgId)
        return {"events": store.audit_log(body.orgId, action=body.action, limit=body.limit)}

    return app


def create_worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` process: logs on stderr, settings from the env."""
    rlog.configure()
    return create_app()


def bootstrap(
    store: Store, org_name: str = "default", *, namespace: str = ""
) -> tuple[str, str] | None:
    """On an empty store: the first org and its admin key. ``None`` otherwise.

    The key holds every org scope and ``platform:admin``: it is the platform
    operator's key as well as the first org's. The first org owns
    ``namespace`` (by default the unprefixed space, as a single-org deployment
    expects; every later org gets a root of its own).
    """
    if store.count_orgs(excluding=SYSTEM_ORG):
        return None
    org = store.create_org(org_name, namespaces=[namespace])
    _, secret = store.create_api_key(org.id, "bootstrap admin", list(ALL_SCOPES), actor="bootstrap")
    return org.id, secret


#: The org earlier versions kept for SessionAuth signing; it signs nothing now
#: (SessionAuth signs with the tenant's own org key) and owns no namespace.
SYSTEM_ORG: Final = "org_system"
