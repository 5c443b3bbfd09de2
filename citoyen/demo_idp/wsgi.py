"""Entry point for gunicorn: `gunicorn 'citoyen.demo_idp.wsgi:app'`.

Configured by CITOYEN_DEMO=1, CITOYEN_IDP_ISSUER and the other CITOYEN_IDP_*
variables; keys and codes live in memory, so run a single worker."""

from citoyen.demo_idp import create_idp

app = create_idp()
