"""Commands for the town's IT: migrations, demo data, scheduled clean-ups, mail."""

from __future__ import annotations

import os

import click
from flask import Flask
from flask import current_app

from citoyen import mail
from citoyen.db import engine
from citoyen.db import new_session


def migrations_config(app: Flask):
    from alembic.config import Config

    from citoyen import PROJECT_ROOT

    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(PROJECT_ROOT, "migrations"))
    cfg.attributes["engine"] = engine(app)
    return cfg


def upgrade_database(app: Flask, revision: str = "head") -> None:
    """Bring the database schema up to date (the only way tables are created)."""
    from alembic import command

    command.upgrade(migrations_config(app), revision)


def init_app(app: Flask) -> None:
    @app.cli.command("migrate")
    @click.option("--revision", default="head", show_default=True)
    def migrate_command(revision):
        """Create or upgrade the database tables."""
        upgrade_database(current_app, revision)
        click.echo("Base de données à jour.")

    @app.cli.group("demo")
    def demo_group():
        """Demo data."""

    @demo_group.command("load")
    def demo_load():
        """Load the demo commune, its agents and families (once)."""
        from citoyen import demo

        with new_session() as session:
            created = demo.load(session, current_app.config)
        click.echo(demo.summary(created))

    @app.cli.group("outbox")
    def outbox_group():
        """The mail outbox."""

    @outbox_group.command("send")
    def outbox_send():
        """Send the mails that are due (run it every minute)."""
        sent = mail.deliver_due(new_session, current_app.config, limit=1000)
        click.echo(f"{sent} courriel(s) envoyé(s).")

    @app.cli.command("purge")
    def purge():
        """Daily clean-up: accounts never activated, old messages, old sent mail."""
        from citoyen.services import accounts
        from citoyen.services import identities
        from citoyen.services import notifications

        config = current_app.config
        with new_session() as session:
            n_accounts = accounts.purge_inactive(session, config)
            n_notes = notifications.purge_old(session, config["NOTIFICATION_RETENTION_DAYS"])
            n_mails = mail.purge_sent(session, config["OUTBOX_RETENTION_DAYS"])
            identities.purge_pending(session)
        click.echo(
            f"{n_accounts} compte(s) jamais activé(s), {n_notes} message(s) "
            f"et {n_mails} courriel(s) envoyé(s) supprimés."
        )

    @app.cli.command("backup")
    @click.argument("directory", type=click.Path(file_okay=False))
    @click.option("--keep", default=0, type=click.IntRange(min=0),
                  help="Garder seulement les N copies les plus récentes de ce dossier (0 : toutes).")
    def backup_command(directory, keep):
        """Copy the SQLite database, consistently, while the portal runs."""
        from datetime import datetime

        from citoyen import backup
        from citoyen.timefmt import PARIS

        url = engine(current_app).url
        if url.get_backend_name() != "sqlite":
            raise click.ClickException(
                "La base est sur PostgreSQL : sauvegardez-la avec pg_dump, par exemple "
                "« pg_dump -Fc -f citoyen.dump citoyen »."
            )
        try:
            made = backup.backup_sqlite(url.database, directory, datetime.now(PARIS), keep=keep)
        except backup.BackupError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Copie de la base : {made.path} ({made.size // 1024} Kio)."
                   + (f" {len(made.removed)} copie(s) plus ancienne(s) supprimée(s)." if made.removed else ""))

    @app.cli.group("payments")
    def payments_group():
        """Online payments."""

    @payments_group.command("check")
    def payments_check():
        """Settle payments the bank never answered (run it every 15 minutes)."""
        from citoyen.services import payments

        config = current_app.config
        base_url = config.get("BASE_URL") or "http://127.0.0.1:5000"
        with new_session() as session:
            settled = payments.check_pending(session, config, base_url)
            abandoned = payments.abandon_stale(session)
        click.echo(f"{settled} paiement(s) réglé(s) auprès de la banque, "
                   f"{abandoned} paiement(s) sans réponse marqué(s) abandonné(s).")

    @app.cli.group("billing")
    def billing_group():
        """The monthly billing."""

    @billing_group.command("run")
    @click.option("--month", required=True, help="Le mois à facturer, par exemple 2026-09.")
    @click.option("--commune", default=None, help="Le « slug » de la commune ; toutes par défaut.")
    def billing_run(month, commune):
        """Bill a month: invoices (post-paid) or debits (prepaid), each household once."""
        from datetime import date

        from citoyen.services import billing
        from citoyen.services import organisations
        from citoyen.services.errors import DomainError

        try:
            first = date.fromisoformat(month + "-01")
        except ValueError:
            raise click.BadParameter("attendu : AAAA-MM, par exemple 2026-09", param_hint="--month") from None
        config = current_app.config
        base_url = config.get("BASE_URL") or "http://127.0.0.1:5000"
        with new_session() as session:
            towns = [o for o in organisations.all_organisations(session) if commune in (None, o.slug)]
            if not towns:
                raise click.BadParameter(f"aucune commune « {commune} »", param_hint="--commune")
            runs = []
            for town in towns:
                try:
                    runs.append((town.name, billing.start_run(session, None, town.id, first).id))
                except DomainError as error:
                    raise click.ClickException(error.message) from None
        for name, run_id in runs:
            billing.execute_run(new_session, run_id, base_url)
            with new_session() as session:
                run = session.get(billing.BillingRun, run_id)
                click.echo(f"{name} : {run.done} foyer(s), {run.documents} document(s), "
                           f"{run.amount_cents / 100:.2f} €".replace(".", ","))

    @app.cli.group("accounts")
    def accounts_group():
        """Accounts."""

    @accounts_group.command("purge-inactive")
    def purge_inactive():
        """Delete accounts not activated within 24 hours."""
        from citoyen.services import accounts

        with new_session() as session:
            count = accounts.purge_inactive(session, current_app.config)
        click.echo(f"{count} compte(s) jamais activé(s) supprimé(s).")

    @accounts_group.command("create-agent")
    @click.option("--email", required=True)
    @click.option("--first-name", required=True)
    @click.option("--last-name", required=True)
    @click.option("--admin", is_flag=True, help="An administrator rather than an agent.")
    @click.option("--password", default=None, help="Otherwise an invitation link is mailed.")
    def create_agent(email, first_name, last_name, admin, password):
        """Create an agent (or administrator) account."""
        from citoyen.services import backoffice
        from citoyen.services.errors import DomainError

        config = current_app.config
        base_url = config.get("BASE_URL") or "http://127.0.0.1:5000"
        with new_session() as session:
            try:
                account = backoffice.create_agent(
                    session,
                    config,
                    None,
                    first_name=first_name,
                    last_name=last_name,
                    email=email,
                    role="admin" if admin else "agent",
                    base_url=base_url,
                    password=password,
                )
            except DomainError as error:
                raise click.ClickException(error.message) from None
        mail.deliver_due(new_session, config)
        click.echo(f"Compte {account.role} créé : {account.email}")

    @app.cli.group("communes")
    def communes_group():
        """Communes served by the portal."""

    @communes_group.command("create")
    @click.option("--name", required=True, help="Nom de la commune, par exemple « Ville de Belval-sur-Loire ».")
    @click.option("--postcodes", required=True, help="Codes postaux, séparés par des espaces.")
    @click.option("--zone", required=True, help="Zone de vacances scolaires : A, B ou C.")
    @click.option("--slug", default=None, help="Identifiant court ; sinon tiré du nom.")
    def create_commune(name, postcodes, zone, slug):
        """Add a commune (families find it by its postcodes)."""
        from citoyen.services import organisations
        from citoyen.services.errors import DomainError

        with new_session() as session:
            try:
                created = organisations.create(session, None, name, postcodes, zone, slug=slug)
            except DomainError as error:
                raise click.ClickException(error.message) from None
            click.echo(f"Commune « {created.name} » ajoutée (identifiant : {created.slug} ; "
                       f"codes postaux : {created.postcodes}).")

    @app.cli.group("documents")
    def documents_group():
        """Justificatifs."""

    @documents_group.command("remind")
    def documents_remind():
        """Tell families whose justificatifs end soon (run it daily)."""
        from citoyen.services import documents

        config = current_app.config
        base_url = config.get("BASE_URL") or "http://127.0.0.1:5000"
        with new_session() as session:
            count = documents.remind_expiring(session, config, base_url)
        mail.deliver_due(new_session, config)
        click.echo(f"{count} rappel(s) de justificatif bientôt périmé envoyé(s).")
