# Citoyen — the two commands: `make run` and `make test`.

PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
HOST ?= 127.0.0.1
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
INSTANCE := $(or $(CITOYEN_INSTANCE_PATH),$(CURDIR)/instance)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install install-test system-deps browser lint bench clean help

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
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# The browser tests drive Debian's Chromium (never a downloaded one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installation de Chromium (Debian) pour les tests dans le navigateur…"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		|| echo "Chromium n'a pas pu être installé : les tests dans le navigateur seront ignorés."; }

$(INSTANCE)/config.py: | $(VENV)/.installed
	@mkdir -p $(INSTANCE)
	@echo "# Local settings of this instance (not in git)." > $@
	@$(BIN)/python -c "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32))" >> $@
	@echo "Clé secrète créée dans $@"

run: install | $(INSTANCE)/config.py
	@CITOYEN_DEMO=1 $(FLASK) migrate
	@CITOYEN_DEMO=1 $(FLASK) demo load
	@echo ""
	@echo "Le portail démarre sur http://$(HOST):$(PORT)/"
	@echo "Courriels de démonstration : http://$(HOST):$(PORT)/demo/courriels"
	@echo "Arrêt : Ctrl+C"
	@echo ""
	@CITOYEN_DEMO=1 exec $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 \
		--access-logfile - --log-level warning wsgi:app


test: install-test browser
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check citoyen tests bench migrations wsgi.py

bench: install-test
	$(BIN)/python bench/accounts.py

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts
