"""Paiements: the compte d'avance, its top-up through the bank, and the bank's answers."""

from urllib.parse import urlsplit

from flask import abort
from flask import flash
from flask import make_response
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import Length

from citoyen.access import public
from citoyen.blueprints import statements
from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import required
from citoyen.blueprints.payments import bp
from citoyen.blueprints.statements import StatementForm
from citoyen.blueprints.statements import pdf_download
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.extensions import csrf
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.models import Organisation
from citoyen.models.money import PAYMENT_ABANDONED
from citoyen.models.money import PAYMENT_PAID
from citoyen.models.money import PAYMENT_REFUSED
from citoyen.services import billing
from citoyen.services import households
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services import payments
from citoyen.services.errors import NotFound
from citoyen.services.households import format_cents
from citoyen.timefmt import commune_today


class TopUpForm(Form):
    amount = StringField(
        "Montant", validators=[required("Indiquez le montant."), Length(max=20)],
        render_kw={"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"},
    )


def _tax_years():
    this = commune_today().year
    return [this - 1, this, this - 2, this - 3]


def _page(forms=None, status=200, statement_forms=None, tax_errors=None):
    session = get_session()
    tax_year = commune_today().year - 1
    linked = households.households_of(session, current_user)
    low, high = payments.limits(settings())
    accounts = [
        {
            "household": h,
            "balance": ledger.balance(session, h.id),
            "entries": ledger.entries(session, h.id, limit=50),
            "payments": payments.payments_of(session, h.id, limit=10),
            "form": (forms or {}).get(h.id) or TopUpForm(prefix=f"h{h.id}", formdata=None),
            "statement": (statement_forms or {}).get(h.id) or StatementForm(prefix=f"r{h.id}-"),
            "online": payments.backend_config(
                settings(), session.get(Organisation, h.organisation_id)) is not None,
            "prices": billing.household_prices(session, h),
            "postpaid": session.get(Organisation, h.organisation_id).billing_mode == "postpaid",
            "children": [(c, billing.tax_eligibility(c, tax_year)) for c in h.children
                         if c.status == "validated"],
            "tax_error": (tax_errors or {}).get(h.id, ""),
        }
        for h in linked
    ]
    return render("payments/index.html", accounts=accounts, format_cents=format_cents, tax_years=_tax_years(),
                  low=format_cents(low), high=format_cents(high), status=status)


@bp.route("")
def index():
    """Paiements: « Solde de votre compte d'avance », its movements, « Recharger mon compte »."""
    if not households.households_of(get_session(), current_user):
        return redirect(url_for("household.subscriptions"))
    return _page()


@bp.route("/<int:household_id>/releve")
def statement(household_id: int):
    """Relevé de compte: Télécharger au format PDF."""
    household = _household(household_id)
    form = StatementForm(request.args, prefix=f"r{household.id}-")
    response = statements.pdf_response(get_session(), household, form)
    if response is None:
        return _page(status=422, statement_forms={household.id: form})
    return response


@bp.route("/<int:household_id>/attestation")
def tax_certificate(household_id: int):
    """Attestation fiscale: Télécharger au format PDF."""
    household = _household(household_id)
    try:
        child_id, year = int(request.args.get("enfant", "")), int(request.args.get("annee", ""))
    except ValueError:
        return _page(status=422, tax_errors={household.id: "Choisissez l'enfant et l'année."})
    if not (0 < child_id < 2**31 and 2000 <= year <= 2100):
        return _page(status=422, tax_errors={household.id: "Choisissez l'enfant et l'année."})
    ok, result = attempt(None, billing.tax_certificate, get_session(), household, child_id, year)
    if ok:
        return pdf_download(result, f"attestation-fiscale-{year}-{child_id}")
    if isinstance(result, NotFound):
        abort(404)
    return _page(status=422, tax_errors={household.id: result.message})


@bp.route("/<int:household_id>/recharger", methods=["POST"])
def top_up(household_id: int):
    """Valider le paiement: record it, then send the browser to the bank."""
    household = _household(household_id)
    form = TopUpForm(prefix=f"h{household.id}")
    if form.validate_on_submit():
        ok, result = attempt(form, payments.start_topup, get_session(), settings(), current_user,
                             household, form.amount.data, _bank_urls())
        if ok:
            return _to_bank(*result)
    return _page({household.id: form}, status=422)


def _to_bank(payment, to_bank):
    response = make_response(render("payments/to_bank.html", to_bank=to_bank,
                                     amount=format_cents(payment.amount_cents)))
    # This page posts its form to the bank: allow that origin, and only here.
    bank = urlsplit(to_bank.url)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        f"form-action 'self' {bank.scheme}://{bank.netloc}"
    )
    return response


def _bank_urls():
    return {"return": base_url() + url_for("payments.bank_return"),
            "notify": base_url() + url_for("payments.notification")}


def _household(household_id: int):
    try:
        return households.household_for(get_session(), current_user, household_id)
    except NotFound:
        abort(404)


@bp.route("/factures")
def invoices_page():
    """Mes factures: number, date, period, amount, « Reste à payer », state."""
    session = get_session()
    linked = households.households_of(session, current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    groups = []
    for h in linked:
        town = session.get(Organisation, h.organisation_id)
        groups.append({"household": h, "town": town, "invoices": invoices.of_household(session, h.id),
                       "online": payments.backend_config(settings(), town) is not None})
    return render("payments/invoices.html", groups=groups, format_cents=format_cents,
                  state=invoices.state)


@bp.route("/<int:household_id>/factures/<int:invoice_id>.pdf")
def invoice_pdf(household_id: int, invoice_id: int):
    """Une facture ou un avoir, au format PDF."""
    household = _household(household_id)
    try:
        invoice = invoices.get_for(get_session(), household, invoice_id)
    except NotFound:
        abort(404)
    return pdf_download(invoices.pdf(get_session(), invoice), invoice.number)


@bp.route("/<int:household_id>/factures/<int:invoice_id>/payer", methods=["POST"])
def pay_invoice(household_id: int, invoice_id: int):
    """Payer cette facture: what is left to pay, at the bank."""
    household = _household(household_id)
    form = Form()
    if form.validate_on_submit():
        ok, result = attempt(None, payments.start_invoice_payment, get_session(), settings(),
                             current_user, household, invoice_id, _bank_urls())
        if ok:
            return _to_bank(*result)
        if isinstance(result, NotFound):
            abort(404)
        flash(result.message, "error")
    return redirect(url_for("payments.invoices_page"))


@bp.route("/retour", methods=["GET", "POST"])
@public
@csrf.exempt
def bank_return():
    """The family comes back from the bank: the signed answer settles the payment
    (once, even if the notification came first), then the account page says how it went."""
    query = request.query_string.decode() if request.method == "GET" else request.get_data(as_text=True)
    outcome = payments.settle(get_session(), settings(), query, base_url(), source="return")
    payment = outcome.payment
    if payment is None:
        flash("Nous n'avons pas pu lire la réponse de la banque. Si vous avez payé, le paiement "
              "apparaîtra sous quelques minutes ; sinon, contactez la mairie.", "error")
    elif payment.status == PAYMENT_PAID:
        flash(f"Votre paiement de {format_cents(payment.amount_cents)} est accepté. "
              "Le solde de votre compte d'avance est à jour.", "success")
    elif payment.status == PAYMENT_REFUSED:
        flash("La banque a refusé le paiement : rien n'a été débité. Vous pouvez réessayer avec "
              "une autre carte, ou régler à la mairie.", "error")
    elif payment.status == PAYMENT_ABANDONED:
        flash("Vous avez abandonné le paiement : rien n'a été débité.", "error")
    else:
        flash("Le paiement est en cours de traitement par la banque.", "success")
    back = "payments.invoices_page" if payment is not None and payment.invoice_id else "payments.index"
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in", next=url_for(back)))
    return redirect(url_for(back))


@bp.route("/notification", methods=["POST"])
@public
@csrf.exempt
def notification():
    """The bank's server-to-server notification; only its signature is trusted."""
    outcome = payments.settle(get_session(), settings(), request.get_data(as_text=True), base_url(),
                              source="notification")
    if outcome.payment is None:
        return "refused\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    return "OK\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
