"""The admin dashboard at ``/dashboard``: server-rendered pages over the procedure table.

Every read and every change goes through the same procedures as ``/rpc`` and
``/trpc`` (the dispatcher, with the signed-in API key), so the dashboard has
exactly the API's scopes and checks and no path of its own to the store.
Pages are Jinja2 templates with plain HTML forms: everything works without
JavaScript; a few lines of our own script add copy buttons, countdowns and
confirmations. No CDN and no Node build: the CSS and script ship in the wheel.
"""

from __future__ import annotations

import csv
import hmac
import io
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from relaypass._jws import DEFAULT_MAX_TOKEN_BYTES
from relaypass._tokens import Verifier, decode_unverified
from relaypass.errors import ErrorCode, RelaypassError
from relaypass.server.dashboard._common import done, flash_of, integer, status_of, utc
from relaypass.server.dashboard._operations import OperationsPages
from relaypass.server.dashboard._sessions import COOKIE, DashboardSession, SessionStore
from relaypass.server.dashboard._signin import SignInLimiter
from relaypass.server.db.store import Store
from relaypass.server.dispatch import CallMeta, Dispatcher, Failure

__all__ = ["dashboard_routes"]

_HERE: Final = Path(__file__).parent
_SCOPES: Final = ("keys:admin", "tokens:mint", "audit:read")
_PAGE: Final = 50
_LOGIN_COOKIE: Final = "relaypass_login"
Handler = Callable[[Request, DashboardSession], Awaitable[Response]]


class _Pages(OperationsPages):
    """The dashboard's handlers, sharing the dispatcher, the store and the sessions."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        store: Store,
        sessions: SessionStore,
        signins: SignInLimiter | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.sessions = sessions
        self.signins = signins or SignInLimiter()
        self.env = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["utc"] = utc

    # ------------------------------------------------------------ plumbing

    async def call(
        self, session: DashboardSession, name: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, Failure | None]:
        outcome = await self.dispatcher.dispatch(
            name, body, CallMeta(authorization=f"Bearer {session.api_key}")
        )
        if isinstance(outcome, Failure):
            return None, outcome
        return outcome.data, None

    def render(
        self,
        request: Request,
        template: str,
        session: DashboardSession | None,
        status: int = 200,
        **context: Any,  # noqa: ANN401 - template values
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(
            session=session, path=request.url.path, now_ms=int(time.time() * 1000), **context
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Signed in, and for a POST the session's CSRF token, or back to sign-in / 403."""

        async def endpoint(request: Request) -> Response:
            presented = request.cookies.get(COOKIE)
            session = self.sessions.get(presented)
            if session is None:  # "your session ended" only to a browser that had one
                target = "/dashboard/login" + ("?expired=1" if presented else "")
                return RedirectResponse(target, status_code=303)
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf")
                if not session.csrf_ok(token if isinstance(token, str) else None):
                    return self.render(
                        request, "error.html", session, status=403,
                        code="INVALID_REQUEST", detail="missing or wrong CSRF token",
                    )  # fmt: skip
            try:
                return await handler(request, session)
            finally:
                if request.method == "POST":
                    await (await request.form()).close()  # uploaded files' temporary storage

        return endpoint

    # ------------------------------------------------------------ sign-in

    async def login_page(self, request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = self.render(
            request, "login.html", None, expired="expired" in request.query_params, csrf=token
        )
        self._login_cookie(request, response, token)
        return response

    def _login_again(
        self, request: Request, failure: Failure, *, headers: dict[str, str] | None = None
    ) -> Response:
        retry = secrets.token_urlsafe(32)
        page = self.render(
            request, "login.html", None, status=failure.status, failure=failure, csrf=retry
        )
        page.headers.update(headers or {})
        self._login_cookie(request, page, retry)
        return page

    @staticmethod
    def _login_cookie(request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            _LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/dashboard/login",
            secure=request.url.scheme == "https", max_age=600,
        )  # fmt: skip

    async def login(self, request: Request) -> Response:
        form = await request.form()
        presented, expected = form.get("csrf"), request.cookies.get(_LOGIN_COOKIE)
        if not (
            isinstance(presented, str) and expected and hmac.compare_digest(presented, expected)
        ):
            return self.render(
                request, "error.html", None, status=403,
                code="INVALID_REQUEST", detail="missing or wrong CSRF token",
            )  # fmt: skip
        address = request.client.host if request.client is not None else "unknown"
        wait = self.signins.retry_after(address)
        if wait is not None:
            refused = Failure(
                ErrorCode.RATE_LIMITED, 429,
                f"too many failed sign-ins: try again in {wait} s", retry_after_seconds=wait,
            )  # fmt: skip
            return self._login_again(request, refused, headers={"Retry-After": str(wait)})
        key = form.get("api_key")
        key = key.strip() if isinstance(key, str) else ""
        outcome = await self.dispatcher.dispatch(
            "auth.whoami", None, CallMeta(authorization=f"Bearer {key}")
        )
        if isinstance(outcome, Failure):
            if outcome.status in {401, 403}:  # a wrong key, not a service that is away
                self.signins.failed(address)
            return self._login_again(request, outcome)
        who = outcome.data
        sid, _ = self.sessions.create(
            key, who["orgId"], who["keyId"], tuple(who["scopes"]), org_name=who["orgName"]
        )
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(
            COOKIE, sid, httponly=True, samesite="strict", path="/dashboard",
            secure=request.url.scheme == "https", max_age=int(self.sessions.absolute_seconds),
        )  # fmt: skip
        return response

    async def logout(self, request: Request, _: DashboardSession) -> Response:
        self.sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(COOKIE, path="/dashboard")
        return response

    # ------------------------------------------------------------ pages

    async def overview(self, request: Request, s: DashboardSession) -> Response:
        org = {"orgId": s.org_id}
        counts: dict[str, int | None] = {}
        for label, name, field in (
            ("API keys", "streams.apiKeys.list", "keys"),
            ("Signing keys", "streams.signingKeys.list", "keys"),
            ("Tenants", "tenants.list", "tenants"),
            ("Service accounts", "serviceAccounts.list", "serviceAccounts"),
        ):
            data, _ = await self.call(s, name, org)
            counts[label] = len(data[field]) if data is not None else None
        keys, _ = await self.call(s, "streams.signingKeys.list", org)
        pending = [k for k in (keys or {}).get("keys", []) if k["state"] == "pending"]
        hour_ago = int(time.time() * 1000) - 3_600_000
        minted, _ = await self.call(
            s, "audit.list", {**org, "action": "token.mint", "sinceMs": hour_ago, "limit": 1000}
        )
        return self.render(
            request, "overview.html", s, counts=counts, pending=pending,
            chart=_per_minute((minted or {}).get("events", []), hour_ago),
        )  # fmt: skip

    async def api_keys(self, request: Request, s: DashboardSession) -> Response:
        if request.method == "POST":
            form = await request.form()
            action = form.get("action")
            created = failure = None
            if action == "create":
                created, failure = await self.call(s, "streams.apiKeys.create", {
                    "orgId": s.org_id, "label": str(form.get("label") or ""),
                    "scopes": [str(v) for v in form.getlist("scopes")],
                })  # fmt: skip
            elif action == "revoke":
                _, failure = await self.call(
                    s, "streams.apiKeys.revoke", {"orgId": s.org_id, "id": str(form.get("id"))}
                )
            elif action == "reroll":
                created, failure = await self.call(s, "streams.apiKeys.reroll", {
                    "orgId": s.org_id, "id": str(form.get("id")),
                    "graceSeconds": integer(form.get("grace"), 0),
                })  # fmt: skip
            said = {"create": "Key created.",
                    "revoke": "Key revoked: requests with it are refused.",
                    "reroll": "Key rerolled: the new key is below."}  # fmt: skip
            return done(request, s, created=created, failure=failure,
                         notice=None if failure else said.get(str(action)))  # fmt: skip
        flash = flash_of(s)
        listed, list_failure = await self.call(s, "streams.apiKeys.list", {"orgId": s.org_id})
        return self.render(
            request, "api_keys.html", s, keys=(listed or {}).get("keys", []),
            created=flash.get("created"), failure=flash.get("failure") or list_failure,
            scopes=_SCOPES, notice=flash.get("notice"),
        )  # fmt: skip

    async def signing_keys(self, request: Request, s: DashboardSession) -> Response:
        if request.method == "POST":
            form = await request.form()
            action, kid = form.get("action"), str(form.get("id") or "")
            failure = None
            if action == "create":
                _, failure = await self.call(s, "streams.signingKeys.create", {
                    "orgId": s.org_id, "label": str(form.get("label") or ""),
                    "algorithm": str(form.get("algorithm") or "EdDSA"),
                })  # fmt: skip
            elif action in {"retire", "revoke"}:
                _, failure = await self.call(
                    s, f"streams.signingKeys.{action}", {"orgId": s.org_id, "id": kid}
                )
            said = {"create": "Signing key created: it signs once it has propagated.",
                    "retire": "Signing key retired: it mints nothing more.",
                    "revoke": "Signing key revoked: its tokens are refused."}  # fmt: skip
            return done(request, s, failure=failure,
                         notice=None if failure else said.get(str(action)))  # fmt: skip
        flash = flash_of(s)
        listed, list_failure = await self.call(s, "streams.signingKeys.list", {"orgId": s.org_id})
        return self.render(
            request, "signing_keys.html", s, keys=(listed or {}).get("keys", []),
            failure=flash.get("failure") or list_failure, notice=flash.get("notice"),
        )  # fmt: skip

    async def tenants(self, request: Request, s: DashboardSession) -> Response:
        if request.method == "POST":
            form = await request.form()
            failure, registered = await self._tenant_action(s, form)
            said = {"create": "Tenant created.",
                    "disable": "Tenant disabled: its sessions are cut.",
                    "publish": "Service-account key registered.",
                    "revoke": "Service-account key revoked."}  # fmt: skip
            return done(request, s, failure=failure, registered=registered,
                         notice=None if failure else said.get(str(form.get("action"))))  # fmt: skip
        flash = flash_of(s)
        tenants, f1 = await self.call(s, "tenants.list", {"orgId": s.org_id})
        accounts, f2 = await self.call(s, "serviceAccounts.list", {"orgId": s.org_id})
        return self.render(
            request, "tenants.html", s, tenants=(tenants or {}).get("tenants", []),
            accounts=(accounts or {}).get("serviceAccounts", []),
            registered=flash.get("registered"), failure=flash.get("failure") or f1 or f2,
            notice=flash.get("notice"),
        )  # fmt: skip

    async def _tenant_action(
        self,
        s: DashboardSession,
        form: Any,  # noqa: ANN401 - Starlette's FormData
    ) -> tuple[Failure | None, str | None]:
        action = form.get("action")
        tenant = str(form.get("tenant") or "")
        if action == "create":
            body = {"orgId": s.org_id, "tenantId": tenant, "label": str(form.get("label") or "")}
            return (await self.call(s, "tenants.create", body))[1], None
        if action == "disable":
            body = {"orgId": s.org_id, "tenantId": tenant}
            return (await self.call(s, "tenants.disable", body))[1], None
        kid = str(form.get("kid") or "")
        if action == "publish":
            pem = str(form.get("pem") or "")
            upload = form.get("pem_file")
            if not pem.strip() and upload is not None and hasattr(upload, "read"):
                pem = (await upload.read(8192)).decode("utf-8", errors="replace")
            body = {"tenant_id": tenant, "private_key_id": kid, "public_key_pem": pem,
                    "role": str(form.get("role") or "sdk")}  # fmt: skip
            failure = (await self.call(s, "PublishServiceAccount", body))[1]
            return failure, kid if failure is None else None
        if action == "revoke":
            body = {"tenant_id": tenant, "private_key_id": kid}
            return (await self.call(s, "RevokeServiceAccount", body))[1], None
        return None, None

    async def tokens(self, request: Request, s: DashboardSession) -> Response:
        if request.method == "POST":
            form = await request.form()
            kind = _kind(form.get("kind"))
            if form.get("action") == "decode":
                decoded = self._decode(s, str(form.get("token") or ""))
                return done(request, s, decoded=decoded, to=f"?kind={kind}#decoded")
            minted, failure = await self.call(s, *_mint_request(s, form))
            notice = None if failure else f"Minted a {kind} token: copy it below."
            return done(request, s, minted=minted, failure=failure, notice=notice,
                         to=f"?kind={kind}")  # fmt: skip
        flash = flash_of(s)
        tenants, _ = await self.call(s, "tenants.list", {"orgId": s.org_id})
        return self.render(
            request, "tokens.html", s, minted=flash.get("minted"), failure=flash.get("failure"),
            decoded=flash.get("decoded"), tenants=(tenants or {}).get("tenants", []),
            kind=_kind(request.query_params.get("kind")), notice=flash.get("notice"),
        )  # fmt: skip

    def _decode(self, s: DashboardSession, token: str) -> dict[str, Any]:
        """Header, claims, the signing key, and verified or the refusal code. Never logged."""
        token = token.strip()
        if len(token) > DEFAULT_MAX_TOKEN_BYTES:
            return {"code": "INVALID_TOKEN", "error": "the token is too long"}
        try:
            kid, claims = decode_unverified(token)
        except RelaypassError as exc:
            return {"code": exc.code.value, "error": "this is not a compact JWS"}
        result: dict[str, Any] = {"kid": kid, "claims": claims}
        try:
            verified = Verifier(self.store.published_keys(s.org_id)).verify(token)
        except RelaypassError as exc:
            result["code"] = exc.code.value
        else:
            result["verified"] = True
            result["alg"] = verified.alg
        return result

    async def audit(self, request: Request, s: DashboardSession) -> Response:
        query = request.query_params
        page = max(integer(query.get("page"), 1), 1)
        body: dict[str, Any] = {"orgId": s.org_id, "limit": _PAGE, "offset": (page - 1) * _PAGE}
        for field, name in (("action", "action"), ("actor", "actor")):
            if query.get(name):
                body[field] = query[name]
        for field, name in (("sinceMs", "since"), ("untilMs", "until")):
            if query.get(name):
                body[field] = _ms(query[name])
        if query.get("format") == "csv":
            body.update(limit=1000, offset=0)
        data, failure = await self.call(s, "audit.list", body)
        events = (data or {}).get("events", [])
        if query.get("format") == "csv" and failure is None:
            return _csv(events)
        return self.render(
            request, "audit.html", s, events=events, failure=failure, page=page,
            more=len(events) == _PAGE, query=dict(query), status=status_of(failure),
        )  # fmt: skip

    async def orgs(self, request: Request, s: DashboardSession) -> Response:
        data, failure = await self.call(s, "orgs.list", {})
        return self.render(
            request, "orgs.html", s, orgs=(data or {}).get("orgs", []), failure=failure,
            status=status_of(failure),
        )  # fmt: skip


_KINDS: Final = ("relay", "moq", "room")


def _kind(value: object) -> str:
    """The token tab asked for (relay by default)."""
    return value if isinstance(value, str) and value in _KINDS else "relay"


def _ms(value: str) -> int:
    """A ``datetime-local`` value (UTC) or epoch milliseconds."""
    if value.isdigit():
        return int(value)
    try:
        return int(time.mktime(time.strptime(value[:16], "%Y-%m-%dT%H:%M")) * 1000)
    except ValueError:
        return 0


def _per_minute(events: list[dict[str, Any]], since_ms: int) -> list[int]:
    buckets = [0] * 60
    for event in events:
        index = (int(event["atMs"]) - since_ms) // 60_000
        if 0 <= index < 60:  # noqa: PLR2004 - minutes in the hour
            buckets[index] += 1
    return buckets


def _mint_request(s: DashboardSession, form: Any) -> tuple[str, dict[str, Any]]:  # noqa: ANN401
    kind = form.get("kind")
    ttl = integer(form.get("ttl"), 600)
    if kind == "moq":
        paths = [p for p in str(form.get("paths") or "").split() if p]
        publish = paths if form.get("may_publish") else []
        root = str(form.get("root") or "")
        body = {"orgId": s.org_id, "root": root, "ttlSeconds": ttl, "publish": publish,
                "subscribe": paths or [""]}  # fmt: skip
        return "tokens.moq.mint", body
    if kind == "room":
        return "tokens.room.mint", {
            "orgId": s.org_id, "roomId": str(form.get("room") or ""),
            "participantId": str(form.get("participant") or ""),
            "role": str(form.get("role") or "speaker"), "ttlSeconds": ttl,
        }  # fmt: skip
    patterns = [p for p in str(form.get("ns") or "").split() if p]
    return "tokens.relay.mint", {
        "orgId": s.org_id, "tenant": str(form.get("tenant") or ""), "ns": patterns,
        "ttlSeconds": ttl,
    }  # fmt: skip


def _csv(events: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at_ms", "actor", "action", "target", "detail"])
    for e in events:
        writer.writerow([e["id"], e["atMs"], e["actor"], e["action"], e["target"] or "",
                         e["detail"]])  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


def dashboard_routes(
    dispatcher: Dispatcher, store: Store, sessions: SessionStore | None = None
) -> list[BaseRoute]:
    """The routes under ``/dashboard``."""
    pages = _Pages(dispatcher, store, sessions or SessionStore())
    g = pages.guarded
    both = ["GET", "POST"]
    return [
        Mount("/dashboard/static", StaticFiles(directory=_HERE / "static"), name="dashboard"),
        Route("/dashboard/login", pages.login_page, methods=["GET"]),
        Route("/dashboard/login", pages.login, methods=["POST"]),
        Route("/dashboard/logout", g(pages.logout), methods=["POST"]),
        Route("/dashboard", g(pages.overview), methods=["GET"]),
        Route("/dashboard/api-keys", g(pages.api_keys), methods=both),
        Route("/dashboard/signing-keys", g(pages.signing_keys), methods=both),
        Route("/dashboard/tenants", g(pages.tenants), methods=both),
        Route("/dashboard/tokens", g(pages.tokens), methods=both),
        Route("/dashboard/audit", g(pages.audit), methods=["GET"]),
        Route("/dashboard/analytics", g(pages.analytics), methods=["GET"]),
        Route("/dashboard/live", g(pages.live), methods=["GET"]),
        Route("/dashboard/webhooks", g(pages.webhooks), methods=both),
        Route("/dashboard/rooms", g(pages.rooms), methods=both),
        Route("/dashboard/orgs", g(pages.orgs), methods=["GET"]),
    ]
