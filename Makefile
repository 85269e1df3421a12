# Tandem — `make run` and `make test` set themselves up from a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
VAR := $(or $(TANDEM_VAR_DIR),var)
STAMP := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)
MO := locale/en/LC_MESSAGES/django.mo
PYTEST_ARGS ?=
# axe-core, the accessibility engine the browser tests run in every page: fetched from
# the npm registry into var/ (never committed), checked against the registry's SHA-1.
AXE_VERSION := 4.14.1
AXE_SHA1 := 14d8a6f3f085afd126b8b5ca1e42e50e17fb1d99
AXE := $(VAR)/vendor/axe-core-$(AXE_VERSION)/axe.min.js
# The Nu HTML checker, run by Java (Debian's default-jre-headless) on the pages the
# browser crawl visits: fetched the same way.
VNU_VERSION := 26.9.27
VNU_SHA1 := 80a35dd6f8f7230132811a6ee8bd4257a119fb14
VNU := $(VAR)/vendor/vnu-jar-$(VNU_VERSION)/vnu.jar
# Tests run in parallel (pytest-xdist), one process per core up to 4, each with its own
# test database.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
BENCH_ARGS ?=
LOAD_ARGS ?=

.PHONY: run test browser-deps screenshots bench loadtest setup install messages makemessages worker beat lint format lock clean

run: setup  ## serve Tandem on http://127.0.0.1:$(PORT) with its background worker
	PORT=$(PORT) BIN=$(BIN) bin/run-embedded

test: install $(MO) browser-deps  ## the whole suite (integration tests too when DATABASE_URL/CELERY_BROKER_URL are set; browser tests when Chromium is installed)
	TANDEM_AXE=$(abspath $(AXE)) TANDEM_VNU=$(abspath $(VNU)) $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: install $(MO)  ## time the heavy pages against their floors on DATABASE_URL (BENCHMARKS.md)
	DJANGO_SETTINGS_MODULE=bench.settings $(BIN)/python -m bench.run $(BENCH_ARGS)

loadtest: install $(MO)  ## gunicorn under simulated users on DATABASE_URL (PostgreSQL): req/s, latencies, CPU ms per request (BENCHMARKS.md, "Load test")
	$(BIN)/python -m bench.load $(LOAD_ARGS)

browser-deps:  ## axe-core and the Nu HTML checker for the browser tests (without them, or without Chromium or Java, those checks are skipped)
	-@bin/fetch-axe $(AXE_VERSION) $(AXE_SHA1) $(AXE)
	-@bin/fetch-vnu $(VNU_VERSION) $(VNU_SHA1) $(VNU)

screenshots: install $(MO) browser-deps  ## refresh docs/screenshots/ from the browser journey
	TANDEM_AXE=$(abspath $(AXE)) TANDEM_SCREENSHOTS=$(abspath docs/screenshots) \
	  $(BIN)/python -m pytest -p no:xdist tests/browser -k journey

setup: install $(MO)
	@mkdir -p $(VAR)
	$(BIN)/python manage.py check --fail-level ERROR
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_demo

install: $(STAMP)

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

$(MO): locale/en/LC_MESSAGES/django.po $(STAMP)
	msgfmt --check -o $@ $<

messages: $(MO)

makemessages: install  ## refresh the .po files from the sources
	$(BIN)/python manage.py makemessages --locale en --no-obsolete --ignore '.venv*' --ignore 'var*'

# Production-style processes (README: PostgreSQL + Redis).
worker: install
	$(BIN)/celery -A tandem worker --loglevel=INFO

beat: install
	@mkdir -p $(VAR)
	$(BIN)/celery -A tandem beat --loglevel=INFO

lint: install  ## ruff, and the import contracts of pyproject.toml (docs/architecture.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock:  ## re-pin every dependency from pyproject.toml into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	$(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > .lock-venv/direct.txt
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -r .lock-venv/direct.txt
	( echo '# Exact versions installed by `make` (generated with `make lock` from pyproject.toml).'; \
	  .lock-venv/bin/pip freeze ) > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(VAR)
