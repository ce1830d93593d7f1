"""The control-plane HTTP service.

Every procedure of :mod:`relaypass.api` is served twice from one table: as
``POST /rpc/<name>`` with a JSON body (refusals are RFC 7807
``application/problem+json`` with the stable code) and on ``/trpc/<name>`` in
tRPC v11's wire format. ``/openapi.json`` describes ``/rpc``; ``/docs`` and
``/redoc`` render it from packaged assets. Every call authenticates with an API
key (``Authorization: Bearer <key>``) whose scopes must include the
procedure's.
"""

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from relaypass import __version__
from relaypass._apikeys import ApiKeyHasher
from relaypass.api import BY_NAME, PROCEDURES
from relaypass.errors import ErrorCode, RateLimitedError, RelaypassError, UnavailableError
from relaypass.server import logging as rlog
from relaypass.server.dashboard import dashboard_routes
from relaypass.server.db.store import Store, make_engine
from relaypass.server.db.usage import DAY, HOUR, UsageStore
from relaypass.server.dispatch import Dispatcher, Failure
from relaypass.server.limits import RequestLimits
from relaypass.server.openapi import openapi_document
from relaypass.server.outbox import OutboxRelay
from relaypass.server.procedures import Services, handler_table
from relaypass.server.publish import RedisPublisher
from relaypass.server.ratelimit import MintRateLimiter
from relaypass.server.scopes import ALL_SCOPES, ORG_SCOPES, Scope
from relaypass.server.secrets import KeyEncryptionKey, load_or_create_secret
from relaypass.server.settings import Settings
from relaypass.server.usage import UsageRecorder
from relaypass.server.webhooks import Deliverer
from relaypass.server.wire.lane import ProcedureLane
from relaypass.server.wire.rpc import problem_response, rpc_endpoint
from relaypass.server.wire.trpc import trpc_endpoint

__all__ = ["ALL_SCOPES", "ORG_SCOPES", "Scope", "create_app", "open_store"]

_DOCS_ASSETS: Final = Path(fastapi_offline.__file__).parent / "static"
_JWKS_CACHE: Final = {"Cache-Control": "public, max-age=30"}


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
    store.follow_changes()
    store.index_audit()
    return store


@dataclass(frozen=True, slots=True)
class _Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    mints: Counter
    limiter_fallbacks: Counter
    hops: Counter


def _metrics() -> _Metrics:
    registry = CollectorRegistry()
    return _Metrics(
        registry,
        Counter(
            "relaypass_requests",
            "Requests by procedure and outcome",
            ["procedure", "code"],
            registry=registry,
        ),
        Histogram("relaypass_request_seconds", "Request latency", ["procedure"], registry=registry),
        Counter("relaypass_tokens_minted", "Tokens minted by kind", ["kind"], registry=registry),
        Counter(
            "relaypass_ratelimit_fallbacks",
            "Rate-limit checks counted in process because Redis was unreachable",
            registry=registry,
        ),
        Counter(
            "relaypass_loop_calls_moved_to_thread",
            "Calls tried on the event loop that needed a worker thread (a cache miss)",
            ["procedure"],
            registry=registry,
        ),
    )


@final
class _CacheMisses:
    """``relaypass_cache_misses_total{cache}``: reads from the database on a cache miss.

    Read from the store's counts at scrape time (a miss costs no metrics call). A mint whose
    entries were all cached reads nothing; steady traffic of any number of orgs keeps this
    flat, an org idle past the 5 s bound reads again.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "relaypass_cache_misses", "Reads from the database on a cache miss", labels=["cache"]
        )
        counts = self._store.cache_misses
        for cache in ("api_key", "signing_key", "scope", "tenant"):
            family.add_metric([cache], counts[cache])
        yield family


def _limiter(settings: Settings, metrics: _Metrics) -> MintRateLimiter | None:
    if not settings.mint_rate_per_minute:
        return None
    return MintRateLimiter(
        settings.mint_rate_per_minute,
        redis_url=settings.redis_url,
        prefix=settings.redis_prefix,
        on_fallback=metrics.limiter_fallbacks.inc,
    )


def _error_handlers(app: FastAPI) -> None:
    """Refusals outside the procedures (unknown paths, methods) in the same problem+json form."""
    log = rlog.get_logger()

    @app.exception_handler(RelaypassError)
    async def relaypass_error(request: Request, exc: RelaypassError) -> Response:
        log.info("refused", path=request.url.path, code=exc.code.value, reason=exc.reason)
        retry = (
            exc.retry_after_seconds
            if isinstance(exc, RateLimitedError | UnavailableError)
            else None
        )
        return problem_response(
            Failure(exc.code, exc.http_status, exc.public_message, retry_after_seconds=retry)
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_down(request: Request, exc: SQLAlchemyError) -> Response:
        log.warning("unavailable", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            Failure(
                ErrorCode.UNAVAILABLE,
                503,
                "the database is unreachable; retry",
                retry_after_seconds=1,
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {
            404: ErrorCode.UNKNOWN_PROCEDURE,
            405: ErrorCode.METHOD_NOT_ALLOWED,
            413: ErrorCode.REQUEST_TOO_LARGE,
        }.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        response = problem_response(Failure(code, exc.status_code, str(exc.detail)))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response  # fmt: skip


def _operations(
    app: FastAPI, store: Store, publisher: RedisPublisher | None, metrics: _Metrics
) -> None:
    """Health, readiness, metrics and the public key sets."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
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

    _keysets(app, store)
    app.add_middleware(_Observe, metrics=metrics)
    metrics.registry.register(_CacheMisses(store))

    @app.get("/metrics", include_in_schema=False)
    def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _keysets(app: FastAPI, store: Store) -> None:
    """The public key sets gates follow."""

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    def jwks() -> JSONResponse:
        """Every org's published public keys (pending, active, retiring)."""
        return JSONResponse(store.published_keys().to_jwks(), headers=_JWKS_CACHE)

    @app.get("/orgs/{org_id}/jwks.json", include_in_schema=False)
    def org_jwks(org_id: str) -> JSONResponse:
        """One org's public keys and live issuers: what a gate that serves only it follows."""
        if len(org_id) > 64 or not store.org_exists(org_id):  # noqa: PLR2004 - the column size
            return JSONResponse(
                {
                    "type": "https://relaypass.dev/errors/unknown_procedure",
                    "title": "UNKNOWN_PROCEDURE",
                    "status": 404,
                    "code": "UNKNOWN_PROCEDURE",
                    "detail": "there is no org of that id",
                },
                status_code=404,
                media_type="application/problem+json",
            )
        return JSONResponse(store.published_keys(org_id).to_jwks(), headers=_JWKS_CACHE)


class _Observe:
    """Latency and outcome of what the procedures' dispatcher does not count itself.

    A pure ASGI middleware (no per-request task or response buffering).
    """

    def __init__(self, app: Any, metrics: _Metrics) -> None:  # noqa: ANN401 - any ASGI app
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # noqa: ANN401
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def tracking(message: Any) -> None:  # noqa: ANN401
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, receive, tracking)
        if scope.get("state", {}).get("dispatched"):
            return  # the dispatcher counted each call
        path: str = scope.get("path", "")
        label = "other"
        if path.startswith(("/rpc/", "/trpc/")):
            # Refused before any dispatch: only declared procedures become label values,
            # so junk paths cannot grow the series.
            name = path.removeprefix("/rpc/").removeprefix("/trpc/")
            label = name if name in BY_NAME else "unknown"
        self.metrics.latency.labels(label).observe(time.perf_counter() - started)
        self.metrics.requests.labels(label, str(status[0])).inc()


def _docs(app: FastAPI) -> None:
    """The OpenAPI document, Swagger UI and ReDoc, from packaged assets (never a CDN)."""
    document = openapi_document(PROCEDURES, version=__version__)
    app.openapi = lambda: document  # type: ignore[method-assign]
    app.mount("/docs/assets", StaticFiles(directory=_DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="relaypass control plane",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="relaypass control plane",
            redoc_js_url="/docs/assets/redoc.standalone.js",
            redoc_favicon_url="/docs/assets/favicon.png",
            with_google_fonts=False,
        )


def create_app(
    settings: Settings | None = None, store: Store | None = None, *, freeze_gc: bool = False
) -> FastAPI:
    """Build the service; the store is opened from settings unless given."""
    settings = settings or Settings()
    store = store or open_store(settings)
    log = rlog.get_logger()
    metrics = _metrics()
    publisher = (
        RedisPublisher(settings.redis_url, prefix=settings.redis_prefix)
        if settings.redis_url
        else None
    )
    relay = OutboxRelay(store, publisher, log=log) if publisher is not None else None
    deliverer = Deliverer(
        store,
        allow_private=settings.webhook_allow_private,
        retry_seconds=settings.webhook_retry_seconds,
        disable_after_seconds=settings.webhook_disable_after_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )
    usage = UsageRecorder(
        UsageStore(store.engine),
        redis_url=settings.redis_url,
        prefix=settings.redis_prefix,
        snapshot_seconds=settings.usage_sample_seconds,
        minutes_for=settings.usage_minutes_hours * HOUR,
        hours_for=settings.usage_hours_days * DAY,
        days_for=settings.usage_days_days * DAY,
    )
    usage.on_queued = deliverer.notify
    usage.limits_source = store.all_org_limits
    usage.announce = store.emit_webhook

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
        usage.start()
        deliverer.start()
        if freeze_gc:
            # A server process (``serve``): what startup built (modules, the app, the
            # handler table) lives as long as it does; keeping it out of the collector's
            # full passes cut the mint p99 from ~70 ms to 6-14 ms (bench/mint.py).
            gc.freeze()
        yield
        await asyncio.to_thread(usage.close)
        await asyncio.to_thread(deliverer.close)
        if relay is not None:
            await asyncio.to_thread(relay.close)
        if publisher is not None:
            publisher.close()
        store.close()

    app = FastAPI(
        title="relaypass control plane",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.store = store
    app.state.outbox = relay
    app.state.usage = usage

    async def check_api_key(key: str) -> object:
        # A cache hit costs microseconds: answered on the loop; a miss reads the database.
        return store.cached_api_key(key) or await asyncio.to_thread(store.verify_api_key, key)

    services = Services(
        store=store,
        settings=settings,
        published=published,
        mints=metrics.mints,
        limiter=_limiter(settings, metrics),
        lobby=publisher.lobby if publisher is not None else None,
        participants=publisher.participants if publisher is not None else None,
        usage=usage,
        webhooks=deliverer,
    )
    dispatcher = Dispatcher(
        handler_table(),
        services,
        requests=metrics.requests,
        latency=metrics.latency,
        moved=metrics.hops,
    )
    app.state.dispatcher = dispatcher
    rpc, trpc = rpc_endpoint(dispatcher), trpc_endpoint(dispatcher)
    app.add_middleware(ProcedureLane, rpc=rpc, trpc=trpc, handlers=app.exception_handlers)
    app.add_middleware(
        RequestLimits, max_body_bytes=settings.max_body_bytes, check_api_key=check_api_key
    )
    # The routes still answer what the lane does not take (HEAD, an empty tRPC path).
    app.add_route("/rpc/{name}", rpc, methods=["POST"])
    app.add_route("/trpc/{path:path}", trpc, methods=["GET", "POST"])
    app.router.routes.extend(dashboard_routes(dispatcher, store))
    _error_handlers(app)
    _operations(app, store, publisher, metrics)
    _docs(app)
    return app


def create_worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` process: logs on stderr, settings from the env."""
    rlog.configure()
    return create_app(freeze_gc=True)


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
