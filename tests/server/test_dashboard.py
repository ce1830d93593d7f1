"""The dashboard in real Chromium (Debian's, driven by Playwright; nothing downloaded).

The flow of the issue, refusals, a screenshot of every page at desktop and phone
widths, and axe-core (npm, from the lock file) on every page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Browser, Page, expect, sync_playwright

from relaypass.server.app import bootstrap, create_app
from relaypass.server.settings import Settings
from tests._browser import launch
from tests._cp import sqlite_store
from tests._net import serve_in_thread

AXE = Path(__file__).parents[1] / "interop" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = [
    "",
    "/api-keys",
    "/signing-keys",
    "/tenants",
    "/tokens",
    "/audit",
    "/orgs",
    "/analytics",
    "/analytics?range=1h",
    "/live",
    "/webhooks",
    "/rooms?room=standup",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "dashboard"


@dataclass
class Served:
    url: str
    org: str
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("dashboard")
    store = sqlite_store(directory, key_propagation_seconds=5)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_tenant(org, "acme", "Acme", actor="test")
    settings = Settings(data_dir=directory, key_propagation_seconds=5, webhook_allow_private=True)
    app = create_app(settings, store)
    with serve_in_thread(app) as address:
        yield Served(f"http://{address}", org, key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


def sign_in(
    browser: Browser, served: Served, key: str | None = None, *, bypass_csp: bool = False
) -> Page:
    # (bypass_csp: only to inject axe-core; the pages themselves run under their strict CSP)
    page = browser.new_context(bypass_csp=bypass_csp).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{served.url}/dashboard/login")
    page.fill("#api_key", key or served.key)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")
    return page


def test_the_dashboard_flow(served: Served, browser: Browser, tmp_path: Path) -> None:
    page = sign_in(browser, served)
    page.on("dialog", lambda dialog: dialog.accept())

    # A key: shown once; gone after a reload.
    page.click("text=API keys")
    page.fill("#label", "ci-key")
    page.click("text=Create key")
    secret = page.input_value("#new-key")
    assert secret.startswith("rp_live_")
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    assert secret not in page.content()
    assert httpx.post(f"{served.url}/rpc/auth.whoami",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 200  # fmt: skip

    # Revoke it; the API refuses it.
    page.click("button[aria-label='Revoke ci-key']")
    expect(page.locator("tr", has_text="ci-key")).to_contain_text("revoked")
    refused = httpx.post(
        f"{served.url}/rpc/auth.whoami", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401

    # A signing key, counting down to active.
    page.click("text=Signing keys")
    page.fill("#label", "dash-key")
    page.click("text=Create key")
    expect(page.locator(".countdown").first).to_have_text(re.compile(r"\d s"))
    expect(page.locator(".timeline li.now").first).to_have_text("active", timeout=15_000)

    # A service-account PEM, from a file.
    pem = tmp_path / "sa.pem"
    pem.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    page.click("text=Tenants")
    page.fill("#kid", "sa-dash")
    page.set_input_files("#pem_file", str(pem))
    page.click("button:text('Upload')")
    expect(page.locator("#registered-kid")).to_have_text("sa-dash")

    # Mint, then decode what was minted.
    page.click("text=Tokens")
    page.fill("#ns", "acme/**")
    page.click("button:text('Mint')")
    token = page.input_value("#minted-token")
    page.fill("#token", token)
    page.click("button:text('Decode')")
    expect(page.locator("#decoded")).to_contain_text("Verified")
    page.fill("#token", token[:-4] + "AAAA")
    page.click("button:text('Decode')")
    expect(page.locator("#decoded")).to_contain_text("INVALID_TOKEN")

    # The audit log has it all, and exports CSV.
    page.click("text=Audit log")
    expect(page.locator("table")).to_contain_text("api_key.revoke")
    with page.expect_download() as download:
        page.click("button:text('Export CSV')")
    assert "token.mint" in Path(download.value.path()).read_text()

    # Sign out: back to sign-in, and the session is gone.
    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.goto(f"{served.url}/dashboard/api-keys")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_a_post_without_csrf_is_refused(served: Served, browser: Browser) -> None:
    page = sign_in(browser, served)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = httpx.post(
        f"{served.url}/dashboard/api-keys",
        data={"action": "create", "label": "x", "scopes": "tokens:mint"},
        cookies={"relaypass_dashboard": cookies["relaypass_dashboard"]},
    )
    assert answer.status_code == 403
    assert "CSRF" in answer.text


def test_another_orgs_ids_are_refused_as_in_the_api(served: Served, browser: Browser) -> None:
    other = httpx.post(
        f"{served.url}/rpc/orgs.create", json={"name": "Other", "namespaces": ["other"]},
        headers={"Authorization": f"Bearer {served.key}"},
    ).json()  # fmt: skip
    page = sign_in(browser, served, other["adminKey"]["key"])
    page.click("text=API keys")
    # The first org's bootstrap key, revoked from the other org's session: refused like the API.
    csrf = page.input_value("input[name=csrf] >> nth=0")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    first_key_id = httpx.post(
        f"{served.url}/rpc/auth.whoami", headers={"Authorization": f"Bearer {served.key}"}
    ).json()["keyId"]
    api = httpx.post(
        f"{served.url}/rpc/streams.apiKeys.revoke",
        json={"orgId": other["orgId"], "id": first_key_id},
        headers={"Authorization": f"Bearer {other['adminKey']['key']}"},
    )
    assert api.status_code >= 400
    code = api.json()["code"]
    with httpx.Client(cookies={"relaypass_dashboard": cookies["relaypass_dashboard"]}) as http:
        answer = http.post(
            f"{served.url}/dashboard/api-keys",
            data={"csrf": csrf, "action": "revoke", "id": first_key_id},
            follow_redirects=True,
        )
    assert code in answer.text  # the same refusal as the API's
    still = httpx.post(
        f"{served.url}/rpc/auth.whoami", headers={"Authorization": f"Bearer {served.key}"}
    )
    assert still.status_code == 200
    expect(page.locator("a[href='/dashboard/orgs']")).to_have_count(0)  # not a platform key


def test_an_expired_session_returns_to_sign_in(served: Served, browser: Browser) -> None:
    page = sign_in(browser, served)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "relaypass_dashboard"]
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": cookie["name"], "value": "ended-or-forged", "domain": cookie["domain"],
          "path": cookie["path"]}]
    )  # fmt: skip
    page.goto(f"{served.url}/dashboard/audit")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator(".note")).to_contain_text("session ended")


def test_a_first_visit_is_not_told_its_session_ended(served: Served, browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{served.url}/dashboard")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator(".note")).to_have_count(0)
    page.context.close()


def test_every_action_says_what_it_did(served: Served, browser: Browser) -> None:
    _active_signing_key(served)  # the moq mint below needs one, whichever tests ran before
    page = sign_in(browser, served)
    page.goto(f"{served.url}/dashboard/tenants")
    page.fill("#tenant", "feedback_t")
    page.click("section[aria-labelledby=tenant-h] button[type=submit]")
    expect(page.locator(".done")).to_have_text("Tenant created.")
    page.goto(f"{served.url}/dashboard/tokens?kind=moq")
    expect(page.locator(".tabs [aria-current=page]")).to_have_text("moq")
    page.fill("#root", "demo")
    page.click("section[aria-labelledby=mint-h] button[type=submit]")
    expect(page.locator(".done")).to_contain_text("Minted a moq token")
    assert page.locator("#minted-token").is_visible()
    box = page.locator("#minted-token").bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 800  # the result is in view, not below the fold
    page.goto(f"{served.url}/dashboard/audit")
    time = page.locator("tbody time").first
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", time.get_attribute("title") or "")
    expect(page.locator(".who strong")).to_have_text("default")
    page.context.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_every_page_screenshot_and_axe(
    served: Served, browser: Browser, width: int, height: int
) -> None:
    assert AXE.exists(), "run scripts/test: it installs axe-core with npm ci"
    page = sign_in(browser, served, bypass_csp=True)
    page.set_viewport_size({"width": width, "height": height})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for suffix in ["/login", *PAGES]:
        if suffix == "/login":
            viewport = {"width": width, "height": height}
            login = browser.new_context(viewport=viewport, bypass_csp=True).new_page()  # type: ignore[arg-type]
            login.goto(f"{served.url}/dashboard/login")
            target = login
        else:
            page.goto(f"{served.url}/dashboard{suffix}")
            target = page
        name = (suffix.strip("/") or "overview").replace("/", "-").replace("?", "-")
        name = name.replace("=", "-")
        target.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        target.add_script_tag(path=str(AXE))
        violations = target.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => v.impact + ' ' + v.id + ': '"
            " + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
        assert violations == [], (suffix, width, violations)
        overflow = target.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not overflow, (suffix, width, "the page scrolls sideways")


def test_a_key_sees_only_what_its_scopes_allow(served: Served, browser: Browser) -> None:
    minter = httpx.post(
        f"{served.url}/rpc/streams.apiKeys.create",
        json={"orgId": served.org, "label": "mint-only", "scopes": ["tokens:mint"]},
        headers={"Authorization": f"Bearer {served.key}"},
    ).json()["key"]
    page = sign_in(browser, served, minter)
    nav = page.locator("nav[aria-label=Sections]")
    expect(nav).to_contain_text("Tokens")
    for hidden in ("API keys", "Signing keys", "Audit log", "Orgs"):
        expect(nav).not_to_contain_text(hidden)
    page.goto(f"{served.url}/dashboard/api-keys")
    expect(page.locator(".error")).to_contain_text("INVALID_PERMISSIONS")


def _active_signing_key(served: Served) -> None:
    """An active signing key in the org, whichever tests ran before (the flow test makes one)."""
    auth = {"Authorization": f"Bearer {served.key}"}
    keys = httpx.post(f"{served.url}/rpc/streams.signingKeys.list", json={}, headers=auth).json()
    if any(k["state"] == "active" for k in keys["keys"]):
        return
    if not keys["keys"]:
        httpx.post(f"{served.url}/rpc/streams.signingKeys.create", json={"label": "analytics"},
                   headers=auth).raise_for_status()  # fmt: skip
    deadline = time.monotonic() + 15  # the fixture's propagation delay is 5 s
    while time.monotonic() < deadline:
        keys = httpx.post(f"{served.url}/rpc/streams.signingKeys.list", json={}, headers=auth)
        if any(k["state"] == "active" for k in keys.json()["keys"]):
            return
        time.sleep(0.2)
    raise AssertionError("no signing key became active")


def test_analytics_webhooks_and_rooms_pages(served: Served, browser: Browser) -> None:
    """Figures charted from the rollups, an endpoint added (its secret shown once), a test
    delivery logged, a room's lobby and participants opened."""
    auth = {"Authorization": f"Bearer {served.key}"}
    _active_signing_key(served)
    for _ in range(3):
        httpx.post(
            f"{served.url}/rpc/tokens.room.mint",
            json={"orgId": served.org, "roomId": "standup", "participantId": "ada",
                  "role": "speaker"},
            headers=auth,
        ).raise_for_status()  # fmt: skip
    page = sign_in(browser, served)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("nav[aria-label=Sections] >> text=Analytics")
    expect(page.locator("h1")).to_have_text("Analytics")
    mints = page.locator(".counts div", has_text="Mints").locator("dd")
    for _ in range(40):  # mints reach the rollups within a second or two
        if int(mints.inner_text()) >= 3:
            break
        page.wait_for_timeout(250)
        page.reload()
    assert int(mints.inner_text()) >= 3
    expect(page.locator(".uplot-host[data-chart='4'] canvas")).to_have_count(1)  # uPlot drew it
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-with-mints.png"), full_page=True)
    csv_text = page.request.get(f"{served.url}/dashboard/analytics?range=24h&format=csv").text()
    assert csv_text.splitlines()[0].startswith("at,connects,refused")

    page.click("nav[aria-label=Sections] >> text=Webhooks")
    page.fill("#url", "http://127.0.0.1:9/hooks")
    page.fill("#description", "billing")
    page.click("text=Add endpoint")
    secret = page.input_value("#new-secret")
    assert secret.startswith("whsec_")
    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once
    page.click("text=Send test")
    expect(page.locator(".done")).to_contain_text("webhook.test")
    expect(page.locator("section[aria-labelledby=deliveries-h] tbody")).to_contain_text(
        "webhook.test"
    )
    page.screenshot(path=str(ARTIFACTS / "webhooks-with-deliveries.png"), full_page=True)

    page.click("nav[aria-label=Sections] >> text=Rooms")
    page.fill("#room", "standup")
    page.click("text=Open")
    expect(page.locator("h2#lobby-h")).to_have_text("Lobby of standup")
    page.click("text=End the room")
    expect(page.locator(".done")).to_have_text("Room ended.")
    page.context.close()
