"""Entry point for gunicorn: `gunicorn 'citoyen.demo_bank.wsgi:app'` (CITOYEN_DEMO=1).

Forms waiting for a choice live in memory: run a single worker."""

from citoyen.demo_bank import create_bank

app = create_bank()
