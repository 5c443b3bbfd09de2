"""Citoyen: the family portal of a commune."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping

from flask import Flask
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from citoyen import config as default_config
from citoyen.cookie_sessions import CookieSessions
from citoyen.security_headers import SIGNED_IN
from citoyen.security_headers import SecurityHeaders
from citoyen.wording import of

log = logging.getLogger(__name__)

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InsecureConfiguration(RuntimeError):
    pass


class DatabaseId(IntegerConverter):
    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class Portal(Flask):
    """Flask, keeping its answer to « is this view or hook a coroutine? »,
    which it would otherwise work out again for each of them at every request
    (``ensure_sync``, meant to be overridden)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: dict = {}

    def ensure_sync(self, func):
        sync = self._sync.get(func)
        if sync is None:
            sync = super().ensure_sync(func)
            if len(self._sync) < 1024:  # views and hooks are a few hundred; never grow past
                self._sync[func] = sync
        return sync


def create_app(config: Mapping | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, CLI."""
    instance_path = os.environ.get("CITOYEN_INSTANCE_PATH") or os.path.join(
        PROJECT_ROOT, "instance"
    )
    if config and config.get("INSTANCE_PATH"):
        instance_path = config["INSTANCE_PATH"]
    app = Portal(
        __name__, instance_path=os.path.abspath(instance_path), instance_relative_config=True
    )
    # Ids in URLs fit the database's integers: a longer number is a plain 404.
    app.url_map.converters["int"] = DatabaseId
    app.session_interface = CookieSessions()
    app.config.from_object(default_config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(default_config.from_environment())
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("MAIL_DIR"):
        app.config["MAIL_DIR"] = os.path.join(app.instance_path, "mail")
    if (
        app.config["DEMO"]
        and "MAIL_BACKEND" not in (config or {})
        and "CITOYEN_MAIL_BACKEND" not in os.environ
    ):
        app.config["MAIL_BACKEND"] = "file"
    _refuse_insecure_production(app)

    from citoyen import passwords

    passwords.configure(
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_COST"],
        app.config["ARGON2_PARALLELISM"],
    )

    from citoyen import db
    from citoyen import ratelimit
    from citoyen.extensions import compress
    from citoyen.extensions import csrf
    from citoyen.extensions import login_manager

    db.init_app(app)
    ratelimit.init_app(app)
    csrf.init_app(app)
    compress.init_app(app)
    _init_login(app, login_manager)

    if app.config["PROXY_FIX"]:
        n = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    app.wsgi_app = SecurityHeaders(app.wsgi_app, app.config)

    _init_static(app)
    _init_templates(app)
    _init_hooks(app)

    from citoyen import errors

    errors.init_app(app)

    from citoyen.blueprints.agenda import bp as agenda_bp
    from citoyen.blueprints.agent import bp as agent_bp
    from citoyen.blueprints.auth import bp as auth_bp
    from citoyen.blueprints.documents import bp as documents_bp
    from citoyen.blueprints.franceconnect import bp as franceconnect_bp
    from citoyen.blueprints.household import bp as household_bp
    from citoyen.blueprints.main import bp as main_bp
    from citoyen.blueprints.messages import bp as messages_bp
    from citoyen.blueprints.payments import bp as payments_bp
    from citoyen.blueprints.profile import bp as profile_bp
    from citoyen.blueprints.requests import bp as requests_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(franceconnect_bp)
    app.register_blueprint(household_bp)
    app.register_blueprint(documents_bp)
    app.register_blueprint(agenda_bp)
    app.register_blueprint(requests_bp)
    app.register_blueprint(profile_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(agent_bp)
    app.register_blueprint(payments_bp)
    if app.config["DEMO"]:
        from citoyen.blueprints.demo import bp as demo_bp

        app.register_blueprint(demo_bp)

    from citoyen import cli

    cli.init_app(app)
    return app


def _refuse_insecure_production(app: Flask) -> None:
    production = not (app.config.get("TESTING") or app.config.get("DEMO") or app.debug)
    if production and app.config["SECRET_KEY"] == default_config.DEFAULT_SECRET_KEY:
        raise InsecureConfiguration(
            "Refusing to start in production with the default SECRET_KEY: set "
            "CITOYEN_SECRET_KEY (or SECRET_KEY in instance/config.py) to a long random value, "
            "for example the output of: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if production and not app.config.get("BASE_URL"):
        raise InsecureConfiguration(
            "Refusing to start in production without BASE_URL: set CITOYEN_BASE_URL to the "
            "address families use, for example https://famille.example.fr"
        )


def _init_login(app: Flask, login_manager) -> None:
    from citoyen.db import get_session
    from citoyen.services import accounts

    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        account = accounts.load_session_account(get_session(), session_id)
        if account is None or account.activated_at is None:
            return None
        return account

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import flash
        from flask import make_response

        flash(login_manager.login_message, "info")
        target = url_for("auth.sign_in", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request") == "true":
            response = make_response("", 204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)


def _init_static(app: Flask) -> None:
    """Static URLs carry a fingerprint of the file, so they can be cached a year."""
    fingerprints: dict[str, str] = {}

    def fingerprint(filename: str) -> str | None:
        if filename not in fingerprints or app.debug:
            path = os.path.join(app.static_folder, filename)
            try:
                with open(path, "rb") as fh:
                    fingerprints[filename] = hashlib.sha256(fh.read()).hexdigest()[:12]
            except OSError:
                return None
        return fingerprints[filename]

    @app.url_defaults
    def add_fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            value = fingerprint(values["filename"])
            if value:
                values["v"] = value

    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0

    @app.after_request
    def cache_static(response):
        if request.endpoint == "static" and response.status_code == 200:
            if request.args.get("v"):
                response.cache_control.max_age = app.config["STATIC_MAX_AGE"]
                response.cache_control.public = True
                response.cache_control.immutable = True
            else:
                response.cache_control.max_age = 3600
                response.cache_control.public = True
        return response


def _remembered_urls(app: Flask):
    """``url_for`` for the templates: the address of an endpoint without
    arguments (the menu, the footer) or of a static file is worked out once
    per script root; any other call goes to ``url_for``."""
    from flask import url_for as build

    known: dict[tuple, str] = {}
    debug = app.debug

    def url_for(endpoint: str, **values) -> str:
        if debug or (values and (endpoint != "static" or values.keys() != {"filename"})):
            return build(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        url = known.get(key)
        if url is None:
            url = known[key] = build(endpoint, **values)
        return url

    return url_for


def _init_templates(app: Flask) -> None:
    from citoyen import passwords
    from citoyen import timefmt
    from citoyen.chrome import portal_name
    from citoyen.chrome import unread_messages

    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["datetime_fr"] = timefmt.format_datetime
    app.jinja_env.filters["date_fr"] = timefmt.format_date
    app.jinja_env.filters["de"] = of
    app.jinja_env.filters["iso_date_fr"] = timefmt.format_iso_date
    app.jinja_env.globals["PASSWORD_RULE"] = passwords.RULE_TEXT
    app.jinja_env.globals["url_for"] = _remembered_urls(app)
    # Also for macros imported without the page's context.
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.globals["PASSWORD_PATTERN"] = passwords.HTML_PATTERN

    @app.context_processor
    def portal_context():
        return {
            "unread_messages": unread_messages,
            "portal_name": portal_name,
            "demo_mode": app.config["DEMO"],
            "franceconnect_enabled": bool(app.config.get("FRANCECONNECT_DISCOVERY_URL")),
        }


def _init_hooks(app: Flask) -> None:
    from citoyen import access
    from citoyen import mail
    from citoyen.db import new_session

    @app.before_request
    def require_sign_in():
        if access.is_public_endpoint(app, request.endpoint):
            return None
        if not current_user.is_authenticated:
            from citoyen.extensions import login_manager

            return login_manager.unauthorized()
        return None

    @app.after_request
    def mark_signed_in(response):
        # The security headers are added as the response leaves (``SecurityHeaders``):
        # a signed-in account's pages are not to be stored. The account as
        # Flask-Login keeps it for the request, if the request used it at all
        # (nothing of an account is shown otherwise).
        user = g.get("_login_user")
        if user is not None and user.is_authenticated:
            request.environ[SIGNED_IN] = True
        return response

    @app.after_request
    def send_outbox_after_response(response):
        session = g.get("db_session")
        if (
            session is not None
            and session.info.pop("outbox_committed", False)
            and app.config["MAIL_SEND_AFTER_REQUEST"]
        ):

            def deliver():
                try:
                    mail.deliver_due(lambda: new_session(app), app.config, limit=20)
                except Exception:  # the CLI sender will try again
                    log.exception("sending queued mail failed")

            response.call_on_close(deliver)
        return response
