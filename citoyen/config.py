"""Configuration defaults.

Values are read in this order, each overriding the one before:
these defaults, then ``instance/config.py``, then ``CITOYEN_*`` environment
variables, then the mapping given to ``create_app`` (tests).
"""

import json
import os

DEFAULT_SECRET_KEY = "change-me-this-is-not-a-secret"

SECRET_KEY = DEFAULT_SECRET_KEY

# None: a SQLite file "citoyen.db" in the instance folder.
DATABASE_URL = None
# Echo SQL to the log (debugging only).
DATABASE_ECHO = False

# Demo mode: mail is written as .eml files under instance/mail/ and listed on
# /demo/courriels; the demo identity provider and payment backend are allowed.
DEMO = False

# The address of the portal as families reach it, used in links sent by mail.
# None: taken from the request (development and demo only).
BASE_URL = None

# FranceConnect (OpenID Connect). No discovery URL: no FranceConnect button.
# Integration: https://fcp-low.sbx.dev-franceconnect.fr/api/v2/.well-known/openid-configuration
# Production:  https://oidc.franceconnect.gouv.fr/api/v2/.well-known/openid-configuration
FRANCECONNECT_DISCOVERY_URL = None
FRANCECONNECT_CLIENT_ID = None
FRANCECONNECT_CLIENT_SECRET = None
FRANCECONNECT_ACR_VALUES = "eidas1"
# Seconds to wait for the provider before saying it does not answer.
FRANCECONNECT_TIMEOUT = 5

# Which sections of the family record wait for the town hall's validation
# (True) and which apply at once (False).
CHANGE_VALIDATION = {
    "address": True, "contacts": False, "identity": True, "fiscal": True, "bank": True,
    "child_general": True, "child_authorisations": True, "child_health": True,
}

# Mail: "smtp" sends through MAIL_SERVER; "file" writes .eml files in MAIL_DIR.
MAIL_BACKEND = "smtp"
MAIL_SERVER = "localhost"
MAIL_PORT = 25
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_STARTTLS = False
MAIL_SSL = False
MAIL_TIMEOUT = 10
MAIL_SENDER = "Portail Citoyen <ne-pas-repondre@localhost>"
# None: "mail" under the instance folder.
MAIL_DIR = None
# Send queued mail right after the response (otherwise only `flask outbox send`).
MAIL_SEND_AFTER_REQUEST = True

# Rate limits (per client address and per e-mail address). The storage is the
# `limits` library's: memory:// for one server, redis:// or memcached:// when
# several app servers share the load.
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_ENABLED = True
RATELIMIT_SIGN_IN = "30/minute"
RATELIMIT_SIGN_IN_PER_EMAIL = "10/minute"
RATELIMIT_RECOVERY = "10/minute"
RATELIMIT_RECOVERY_PER_EMAIL = "5/hour"
RATELIMIT_SIGN_UP = "10/hour"
RATELIMIT_SIGN_UP_PER_EMAIL = "5/hour"
# « M'abonner »: per client address (the per-account lock is in the database).
RATELIMIT_SUBSCRIBE = "20/15minute"
# The current password asked again in « Mon profil » (password, identifier, deletion).
RATELIMIT_PASSWORD_CHECK = "20/15minute"
RATELIMIT_PASSWORD_CHECK_PER_EMAIL = "10/15minute"

# Sign-in lockout.
LOGIN_MAX_FAILURES = 5
LOGIN_LOCK_MINUTES = 15

# Anti-bot check on sign-up: the form must have been open at least this long.
SIGNUP_MIN_SECONDS = 3

# Lifetimes of the links sent by mail, in hours.
ACTIVATION_HOURS = 24
RESET_HOURS = 1
EMAIL_CHANGE_HOURS = 24
INVITATION_HOURS = 72

# argon2id parameters: OWASP's recommendation (19 MiB, 2 passes, 1 lane), about
# 50 ms a hash here, so that two cores still sign in ~35 families a second at
# the morning rush. Hashes made with other parameters are upgraded at sign-in.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST = 19456
ARGON2_PARALLELISM = 1

# Notifications are kept this many days.
NOTIFICATION_RETENTION_DAYS = 365
# Sent mail is kept in the outbox this many days.
OUTBOX_RETENTION_DAYS = 30

# Bounds any request body; the upload of justificatifs allows its own larger
# bound (DOCUMENT_MAX_FILES files of DOCUMENT_MAX_FILE_SIZE each).
MAX_CONTENT_LENGTH = 2 * 1024 * 1024 + 64 * 1024

# Justificatifs: the size of each file, how many files for one document, and
# how many days before its end a family is told that a document expires
# (`flask documents remind`, daily). None: files under instance/uploads/.
DOCUMENT_MAX_FILE_SIZE = 2 * 1024 * 1024
DOCUMENT_MAX_FILES = 5
DOCUMENT_REMINDER_DAYS = 30
UPLOAD_FOLDER = None

# Month agenda pages kept rendered in each app process, each served again
# only while what it shows reads the same (about 50 KB each; 0: none).
AGENDA_CACHE_SIZE = 256

# Trust X-Forwarded-* from this many proxies (behind a load balancer).
PROXY_FIX = 0

# Cookies.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False
REMEMBER_COOKIE_HTTPONLY = True
PERMANENT_SESSION_LIFETIME = 8 * 3600

WTF_CSRF_TIME_LIMIT = None
# Static files carry a content fingerprint in their URL: cache them a year.
STATIC_MAX_AGE = 365 * 24 * 3600

COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
]
COMPRESS_ALGORITHM = ["gzip"]
COMPRESS_MIN_SIZE = 500

TIMEZONE = "Europe/Paris"


def from_environment(prefix: str = "CITOYEN_") -> dict:
    """Read CITOYEN_* variables; values that parse as JSON (numbers, booleans,
    lists) are taken as such, everything else as a string."""
    values = {}
    for name, raw in os.environ.items():
        if not name.startswith(prefix) or name == prefix + "INSTANCE_PATH":
            continue
        key = name[len(prefix) :]
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        values[key] = value
    return values

# Online payment, per commune (its slug, or "*" for every commune):
# {"belval": {"kind": "systempayv2", "options": {"service_url": ..., "secret_test": ...,
#  "vads_site_id": ..., "vads_ctx_mode": "TEST" or "PRODUCTION", "signature_algo": "hmac_sha256"}}}
# Any backend eopayment supports (PayFiP, TIPI, SystemPay, Paybox…). Empty: no online payment.
PAYMENT_BACKENDS: dict = {}
# Top-ups of the compte d'avance, in cents.
TOPUP_MIN_CENTS = 100
TOPUP_MAX_CENTS = 100_000
