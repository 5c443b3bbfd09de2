"""A demo OpenID Connect provider imitating FranceConnect v2.

It exists so the demo and the tests exercise the whole protocol over real
HTTP. It keeps its keys, codes and tokens in memory: run it in one process.
It refuses to start unless the app is in demo or testing mode."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask import redirect
from joserfc.jwk import ECKey

from citoyen.demo_idp.views import bp

MISBEHAVE_MODES = {
    "wrong_signature",
    "unknown_kid",
    "wrong_nonce",
    "wrong_audience",
    "expired",
    "wrong_issuer",
    "access_denied",
    "token_error",
    "slow",
    "wrong_acr",
    "userinfo_bad_signature",
}

DEFAULT_CLIENTS = {
    "citoyen-demo": {
        "secret": "citoyen-demo-secret",
        "redirect_uris": ["http://127.0.0.1:5000/connexion/franceconnect/retour"],
        "post_logout_redirect_uris": ["http://127.0.0.1:5000/deconnexion/franceconnect"],
    }
}

TRUE_WORDS = {"1", "true", "yes", "on"}


def config_from_environment() -> dict:
    """The configuration `make run` gives through CITOYEN_IDP_* variables."""
    env = os.environ
    client = DEFAULT_CLIENTS["citoyen-demo"]
    client_id = env.get("CITOYEN_IDP_CLIENT_ID", "citoyen-demo")
    redirect_uris = env.get("CITOYEN_IDP_REDIRECT_URIS")
    logout_uris = env.get("CITOYEN_IDP_POST_LOGOUT_URIS")
    config = {
        "CLIENTS": {
            client_id: {
                "secret": env.get("CITOYEN_IDP_CLIENT_SECRET", client["secret"]),
                "redirect_uris": (
                    redirect_uris.split() if redirect_uris else client["redirect_uris"]
                ),
                "post_logout_redirect_uris": (
                    logout_uris.split() if logout_uris else client["post_logout_redirect_uris"]
                ),
            }
        },
        "MISBEHAVE": env.get("CITOYEN_IDP_MISBEHAVE") or None,
    }
    if env.get("CITOYEN_IDP_ISSUER"):
        config["ISSUER"] = env["CITOYEN_IDP_ISSUER"]
    return config


class IdpState:
    """Signing keys and the short-lived codes and access tokens, in memory."""

    def __init__(self) -> None:
        self.key = new_key()  # published in the JWKS
        self.rogue_key = new_key()  # never published, for the misbehave modes
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.lock = threading.Lock()

    def put(self, store: dict[str, dict], record: dict, lifetime: int = 60) -> str:
        value = secrets.token_urlsafe(32)
        now = time.time()
        with self.lock:
            for stale in [k for k, v in store.items() if v["expires_at"] < now]:
                del store[stale]
            store[value] = {**record, "expires_at": now + lifetime}
        return value

    def take_code(self, code: str) -> dict | None:
        """The code's record, once: a second call gets None."""
        with self.lock:
            record = self.codes.pop(code, None)
        return record if record and record["expires_at"] >= time.time() else None

    def access_token(self, token: str) -> dict | None:
        with self.lock:
            record = self.access_tokens.get(token)
        return record if record and record["expires_at"] >= time.time() else None


def new_key() -> ECKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    params = {"kid": secrets.token_urlsafe(12), "use": "sig", "alg": "ES256"}
    return ECKey.import_key(private_key, params)


def create_idp(config: dict | None = None) -> Flask:
    settings = {
        "CLIENTS": DEFAULT_CLIENTS,
        "SECRET_KEY": secrets.token_hex(32),
        "TESTING": False,
        "DEMO": False,
        "MISBEHAVE": None,
        "DELAY_SECONDS": 5.0,
        "USERINFO_JSON": False,
    }
    settings.update(config_from_environment() if config is None else config)

    demo_env = os.environ.get("CITOYEN_DEMO", "").strip().lower() in TRUE_WORDS
    if not (settings["DEMO"] or settings["TESTING"] or demo_env):
        raise RuntimeError(
            "The demo identity provider only runs in demo or testing mode: "
            "set DEMO or TESTING in its config, or CITOYEN_DEMO=1. "
            "Never expose it in production."
        )
    issuer = (settings.get("ISSUER") or "").rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise RuntimeError(
            "The demo identity provider needs ISSUER (or CITOYEN_IDP_ISSUER), "
            "e.g. http://127.0.0.1:5100/api/v2"
        )
    if settings["MISBEHAVE"] not in MISBEHAVE_MODES | {None}:
        raise RuntimeError(f"Unknown MISBEHAVE mode {settings['MISBEHAVE']!r}")
    settings["ISSUER"] = issuer
    prefix = parts.path

    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.config.update(settings)
    # Portal and provider share the host name in the demo (cookies ignore
    # ports): the provider's cookie has its own name and path.
    app.config.update(
        SESSION_COOKIE_NAME="citoyen_idp_session",
        SESSION_COOKIE_PATH=prefix or "/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=parts.scheme == "https",
    )
    app.extensions["demo_idp"] = IdpState()

    app.register_blueprint(bp, url_prefix=prefix or None)
    if prefix:
        # The server's own address leads to the provider's page.
        app.add_url_rule("/", "root", lambda: redirect(prefix + "/"))
    return app
