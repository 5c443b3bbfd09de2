"""Flask returning a constant string: the ceiling of the stack (gunicorn + Flask) here."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def constant():
    return "ok"
