"""A real demo identity provider over HTTP, and a portal configured to use it."""

from __future__ import annotations

import html
import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from werkzeug.serving import make_server

from citoyen import oidc
from citoyen.demo_idp import create_idp

PORTAL = "http://localhost"
CLIENT_ID = "citoyen-test"
SECRET = "citoyen-test-secret"


class Provider:
    def __init__(self, app, server, url):
        self.app = app
        self.server = server
        self.url = url
        self.issuer = url + "/api/v2"

    def misbehave(self, mode: str | None, delay: float = 0.0):
        self.app.config["MISBEHAVE"] = mode
        self.app.config["DELAY_SECONDS"] = delay


@pytest.fixture(scope="session")
def provider_server():
    server = make_server("127.0.0.1", 0, None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_idp({
        "TESTING": True,
        "ISSUER": url + "/api/v2",
        "SECRET_KEY": "idp-test",
        "CLIENTS": {CLIENT_ID: {
            "secret": SECRET,
            "redirect_uris": [PORTAL + "/connexion/franceconnect/retour"],
            "post_logout_redirect_uris": [PORTAL + "/deconnexion/franceconnect"],
        }},
    })
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Provider(app, server, url)
    server.shutdown()


@pytest.fixture
def idp(provider_server):
    provider_server.misbehave(None)
    provider_server.app.config["USERINFO_JSON"] = False
    oidc.forget_cached()
    yield provider_server
    provider_server.misbehave(None)
    oidc.forget_cached()


@pytest.fixture
def app_config(provider_server):
    return {
        "FRANCECONNECT_DISCOVERY_URL": provider_server.issuer + "/.well-known/openid-configuration",
        "FRANCECONNECT_CLIENT_ID": CLIENT_ID,
        "FRANCECONNECT_CLIENT_SECRET": SECRET,
        "FRANCECONNECT_TIMEOUT": 2,
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser_at_provider(authorize_url: str, sub: str | None = "demo-fc-camille-martin",
                        cancel: bool = False) -> str:
    """What a person does at the provider: open the page, pick an identity.
    Returns the address the provider sends the browser back to."""
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    try:
        page = opener.open(authorize_url, timeout=10).read().decode()
    except urllib.error.HTTPError as redirect:
        if redirect.code in (302, 303):
            return redirect.headers["Location"]
        raise
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    signed = html.unescape(re.search(r'name="request" value="([^"]+)"', page).group(1))
    data = {"request": signed, "action": "cancel" if cancel else "login"}
    if sub:
        data["identity"] = sub
    target = urllib.parse.urljoin(authorize_url, action)
    try:
        opener.open(target, data=urllib.parse.urlencode(data).encode(), timeout=10)
    except urllib.error.HTTPError as redirect:
        assert redirect.code in (302, 303), redirect.code
        return redirect.headers["Location"]
    raise AssertionError("the provider did not redirect back")


def round_trip(client, sub="demo-fc-camille-martin", cancel=False, next_path=None):
    """Portal → provider → portal; returns the portal's answer to the return."""
    start = client.get("/connexion/franceconnect" + (f"?next={next_path}" if next_path else ""))
    assert start.status_code == 303, start.status_code
    back = browser_at_provider(start.headers["Location"], sub=sub, cancel=cancel)
    assert back.startswith(PORTAL + "/connexion/franceconnect/retour?"), back
    return client.get(back[len(PORTAL):])
