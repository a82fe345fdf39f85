# One command to run the dashboard, one to run every check.  Both start from nothing:
# they create the virtualenv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install browser nginx postgres bench scale-out catalogs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/mar-insight serve

browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }

# Debian's nginx, for deploy/'s site file (tests/test_deploy.py, bench/scale_out.py); it runs
# only as our own foreground process, never as the system service.
nginx:
	@test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx; }

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; echo "PostgreSQL did not start"; exit 1

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install browser nginx postgres lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: install postgres
	$(BIN)/python -m bench.page_queries

# Extract the marked messages, merge them into the .po files (translate the new ones there,
# see i18n/GLOSSARY.md) and compile the .mo files the package ships.
catalogs: install
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-output --width 100 \
		--project "MAR Insight" --copyright-holder "MAR Insight" -o i18n/messages.pot .
	$(BIN)/pybabel update -i i18n/messages.pot -d i18n/locale --no-fuzzy-matching --width 100 \
		--ignore-obsolete
	$(BIN)/pybabel compile -d i18n/locale --statistics
