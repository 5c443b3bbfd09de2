# Citoyen — the two commands: `make run` and `make test`.

PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
# The demo identity provider (a stand-in for FranceConnect) listens here.
IDP_PORT ?= $(shell expr $(PORT) + 100)
# The test bank (SystemPay protocol, no real payment) listens here.
BANK_PORT ?= $(shell expr $(PORT) + 200)
HOST ?= 127.0.0.1
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
INSTANCE := $(or $(CITOYEN_INSTANCE_PATH),$(CURDIR)/instance)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install install-test system-deps browser redis lint bench bench-agenda bench-billing clean help

help:
	@echo "make run    - installe, migre, charge la démo et démarre le portail sur http://$(HOST):$(PORT)"
	@echo "make test   - installe ce qu'il faut aux tests et lance toute la suite (navigateur compris)"

# Debian ships python3 without venv; install it once if it is missing.
system-deps:
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || { \
		echo "Installation de python3-venv (Debian)…"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv python3-pip; }

$(BIN)/activate: | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,redis]'
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# The browser tests drive Debian's Chromium (never a downloaded one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installation de Chromium (Debian) pour les tests dans le navigateur…"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-l10n \
		|| echo "Chromium n'a pas pu être installé : les tests dans le navigateur seront ignorés."; }
	@! command -v chromium >/dev/null 2>&1 || test -e /usr/lib/chromium/locales/fr.pak || { \
		echo "Installation du français de Chromium (chromium-l10n) : les dates s'affichent jj/mm/aaaa…"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-l10n \
		|| echo "chromium-l10n n'a pas pu être installé : les champs de date s'afficheront mm/jj/aaaa."; }
	@command -v pdftoppm >/dev/null 2>&1 || { \
		echo "Installation de poppler-utils (Debian) pour vérifier les PDF…"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils \
		|| echo "poppler-utils n'a pas pu être installé : la vérification des PDF sera ignorée."; }
	@test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { \
		echo "Installation de fonts-dejavu-core (Debian) : les PDF écrivent tous les noms (Łucja, Ștefan…)…"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core \
		|| echo "fonts-dejavu-core n'a pas pu être installé : les lettres hors d'Europe de l'Ouest seront des carrés noirs dans les PDF."; }

$(INSTANCE)/config.py: | $(VENV)/.installed
	@mkdir -p $(INSTANCE)
	@echo "# Local settings of this instance (not in git)." > $@
	@$(BIN)/python -c "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32))" >> $@
	@echo "Clé secrète créée dans $@"

DEMO_ENV := CITOYEN_DEMO=1 CITOYEN_BASE_URL=http://$(HOST):$(PORT) \
	CITOYEN_FRANCECONNECT_DISCOVERY_URL=http://$(HOST):$(IDP_PORT)/api/v2/.well-known/openid-configuration \
	CITOYEN_FRANCECONNECT_CLIENT_ID=citoyen-demo CITOYEN_FRANCECONNECT_CLIENT_SECRET=citoyen-demo-secret \
	CITOYEN_PAYMENT_BACKENDS='{"*": {"kind": "systempayv2", "options": {"service_url": "http://$(HOST):$(BANK_PORT)/vads-payment/", "secret_test": "citoyendemobanque2026", "signature_algo": "hmac_sha256", "vads_site_id": "12345678"}}}'
IDP_ENV := CITOYEN_DEMO=1 CITOYEN_IDP_ISSUER=http://$(HOST):$(IDP_PORT)/api/v2 \
	CITOYEN_IDP_CLIENT_ID=citoyen-demo CITOYEN_IDP_CLIENT_SECRET=citoyen-demo-secret \
	CITOYEN_IDP_REDIRECT_URIS=http://$(HOST):$(PORT)/connexion/franceconnect/retour \
	CITOYEN_IDP_POST_LOGOUT_URIS=http://$(HOST):$(PORT)/deconnexion/franceconnect

run: install | $(INSTANCE)/config.py
	@$(DEMO_ENV) $(FLASK) migrate
	@$(DEMO_ENV) $(FLASK) demo load
	@echo ""
	@echo "Le portail démarre sur http://$(HOST):$(PORT)/"
	@echo "Courriels de démonstration : http://$(HOST):$(PORT)/demo/courriels"
	@echo "FranceConnect de démonstration : http://$(HOST):$(IDP_PORT)/api/v2 (identités fictives)"
	@echo "Banque de test (aucun paiement réel) : http://$(HOST):$(BANK_PORT)/"
	@echo "Arrêt : Ctrl+C"
	@echo ""
	@$(IDP_ENV) $(BIN)/gunicorn --bind $(HOST):$(IDP_PORT) --workers 1 --log-level warning \
		'citoyen.demo_idp.wsgi:app' & idp=$$!; \
	CITOYEN_DEMO=1 $(BIN)/gunicorn --bind $(HOST):$(BANK_PORT) --workers 1 --threads 4 --log-level warning \
		'citoyen.demo_bank.wsgi:app' & bank=$$!; \
	trap 'kill $$idp $$bank 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 \
		--access-logfile - --log-level warning wsgi:app

# The shared rate-limit counters are tested against Debian's Redis server.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "Installation de redis-server (Debian) pour les tests des limites partagées…"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server \
		|| echo "redis-server n'a pas pu être installé : ces tests seront ignorés."; }

test: install-test browser redis
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check citoyen tests bench migrations wsgi.py

bench: install-test
	$(BIN)/python bench/accounts.py
	$(BIN)/python bench/agenda.py $(BENCH_ARGS)

# The agenda alone; for example BENCH_ARGS="--rush 500 --seconds 10".
bench-billing: install-test
	$(BIN)/python bench/billing.py $(BENCH_ARGS)

bench-agenda: install-test
	$(BIN)/python bench/agenda.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts
