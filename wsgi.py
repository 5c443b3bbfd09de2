"""Production entry point: gunicorn wsgi:app"""

from citoyen import create_app

app = create_app()
