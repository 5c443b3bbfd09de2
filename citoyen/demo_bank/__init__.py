"""A local test bank speaking the SystemPay (Lyra) form protocol, as eopayment's
``systempayv2`` backend expects it: a signed form posted by the browser, a
signed server-to-server notification (IPN), and a signed return.

It exists so that the demo and the tests run the real signature checks end to
end. It offers « Payer », « Refuser » and « Abandonner ». It refuses to start
unless the app is in demo or testing mode."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from flask import Flask
from flask import abort
from flask import redirect
from flask import render_template_string
from flask import request

DEMO_SECRET = "citoyendemobanque2026"

RESULTS = {
    # choice: (vads_result, vads_auth_result, vads_trans_status)
    "payer": ("00", "00", "AUTHORISED"),
    "refuser": ("05", "05", "REFUSED"),
    "abandonner": ("17", "", "ABANDONED"),
}


def sign(fields: dict[str, str], secret: str, algo: str = "hmac_sha256") -> str:
    """The SystemPay signature: the vads_* values sorted by name, joined by "+",
    followed by the certificate."""
    data = "+".join(fields[k] for k in sorted(k for k in fields if k.startswith("vads_")))
    data = f"{data}+{secret}".encode()
    if algo == "sha1":
        return hashlib.sha1(data).hexdigest()  # noqa: S324 — the protocol's legacy mode
    return base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


def post_form(url: str, fields: dict[str, str]) -> int:
    """The bank's notification: a form POST from server to server."""
    body = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310 — the portal's own URL
        return answer.status


PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Banque de test — paiement</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem .3rem 0;border:2px solid #1b4f8a;background:#1b4f8a;color:#fff;border-radius:4px}
button.secondary{background:#fff;color:#1b4f8a}.note{background:#fff4d6;padding:.5rem}</style></head>
<body><main>
<h1>Banque de test</h1>
<p class="note">Banque de démonstration : aucun paiement réel n'est effectué.</p>
{% if home %}<p>Elle reçoit les paiements en ligne du portail famille de démonstration : depuis « Mes factures » ou « Paiements » sur le portail, « Payer cette facture » ou « Approvisionner le compte » mène ici, où « Payer », « Refuser » et « Abandonner » renvoient au portail.</p>
{% elif error %}<p role="alert">{{ error }}</p>{% else %}
<p>Paiement de <strong>{{ amount }}</strong> à <strong>{{ shop }}</strong>.</p>
<p>Référence : {{ reference }}</p>
<form method="post" action="{{ url_for('decide', token=token) }}">
  <button type="submit" name="choix" value="payer">Payer</button>
  <button type="submit" name="choix" value="refuser" class="secondary">Refuser</button>
  <button type="submit" name="choix" value="abandonner" class="secondary">Abandonner</button>
</form>{% endif %}
</main></body></html>"""


def create_bank(config: dict | None = None) -> Flask:
    config = {**config_from_environment(), **(config or {})}
    if not (config.get("DEMO") or config.get("TESTING")):
        raise RuntimeError("La banque de test ne démarre qu'en mode démonstration ou test.")
    app = Flask(__name__)
    app.config.update(config)
    secret: str = config.get("SECRET", DEMO_SECRET)
    notify: Callable[[str, dict], object] = config.get("NOTIFY") or post_form
    pending: dict[str, dict[str, str]] = {}
    lock = threading.Lock()
    # Every notification sent, for the tests to replay.
    app.sent = []

    @app.get("/")
    def home():
        return render_template_string(PAGE, home=True)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_here(_error):
        return render_template_string(PAGE, error="Cette page n'existe pas : un paiement commence sur le "
                                      "portail famille (« Payer cette facture »)."), 404

    @app.post("/vads-payment/")
    def pay():
        fields = {k: v for k, v in request.form.items()}
        algo = config.get("ALGO", "hmac_sha256")
        if not fields.get("vads_amount") or fields.get("signature") != sign(
                {k: v for k, v in fields.items() if k != "signature"}, secret, algo):
            return render_template_string(PAGE, error="Signature du formulaire invalide : "
                                          "paiement impossible."), 400
        token = secrets.token_urlsafe(16)
        with lock:
            pending[token] = fields
        cents = int(fields["vads_amount"])
        amount = f"{cents // 100},{cents % 100:02d} €"
        return render_template_string(PAGE, error=None, amount=amount, token=token,
                                      shop=fields.get("vads_site_id", ""),
                                      reference=fields.get("vads_order_id", ""))

    @app.post("/vads-payment/<token>")
    def decide(token: str):
        with lock:
            fields = pending.pop(token, None)
        choice = request.form.get("choix", "")
        if fields is None or choice not in RESULTS:
            abort(404)
        answer = answer_fields(fields, choice, secret, config.get("ALGO", "hmac_sha256"))
        if choice != "abandonner" and fields.get("vads_url_check"):
            app.sent.append((fields["vads_url_check"], answer))
            try:
                notify(fields["vads_url_check"], answer)
            except Exception:  # noqa: BLE001 — the portal down: the return still carries the answer
                app.logger.warning("notification to %s failed", fields["vads_url_check"])
        back = fields.get("vads_url_return", "/")
        return redirect(back + ("&" if "?" in back else "?") + urllib.parse.urlencode(answer), 303)

    return app


def answer_fields(fields: dict[str, str], choice: str, secret: str,
                  algo: str = "hmac_sha256") -> dict[str, str]:
    """The signed answer the bank sends for a payment form and a choice."""
    result, auth_result, status = RESULTS[choice]
    answer = {k: v for k, v in fields.items() if k.startswith("vads_") and not k.startswith("vads_url")}
    answer.update({
        "vads_result": result,
        "vads_auth_result": auth_result,
        "vads_extra_result": "",
        "vads_trans_status": status,
        "vads_auth_number": secrets.token_hex(3) if choice == "payer" else "",
        "vads_effective_creation_date": datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
    })
    answer["signature"] = sign(answer, secret, algo)
    return answer


def config_from_environment() -> dict:
    env = os.environ
    return {
        "DEMO": env.get("CITOYEN_DEMO", "").lower() in ("1", "true", "yes", "on"),
        "SECRET": env.get("CITOYEN_BANK_SECRET", DEMO_SECRET),
    }
