# Espace Recouvrement — the two commands: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export FLASK_APP := app

.PHONY: run test lint translations translations-extract translations-update chromium nginx \
	vnu lock bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The locks (requirements*.txt, written by `make lock`) pin every package with its hashes:
# pip refuses anything else, so each machine installs the very files that were tested.
$(VENV)/.run-deps: requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q --require-hashes -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install -q --require-hashes -r requirements-dev.txt
	touch $@

PIP_COMPILE := $(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

## make lock: resolve requirements*.in again into the hashed locks (after editing a .in).
lock: $(VENV)/.test-deps
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

translations: $(VENV)/.run-deps
	$(BIN)/pybabel compile -d translations >/dev/null

## make translations-extract: the French strings of the code and templates, into messages.pot.
translations-extract: $(VENV)/.run-deps
	$(BIN)/pybabel extract -F babel.cfg -k _l \
		--ignore-dirs='.* _* tests bench' -o translations/messages.pot .

## make translations-update: merge messages.pot into the Arabic catalogue (new msgids empty).
translations-update: translations-extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l ar --no-fuzzy-matching

## make run: set up, migrate the embedded SQLite database, load the demo data, serve.
run: $(VENV)/.run-deps translations
	APP_ENV=development $(BIN)/flask db upgrade
	@# Its events (the demo requests it files) would hide the logins it prints.
	APP_ENV=development LOG_LEVEL=WARNING $(BIN)/flask seed-demo
	APP_ENV=development LOG_LEVEL=WARNING $(BIN)/flask notifications plan
	@echo "Espace Recouvrement: http://127.0.0.1:5000 (e-mail notices: instance/mail/*.eml)"
	@# The notices are written as .eml files by a sender beside the server, stopped with it.
	APP_ENV=development LOG_LEVEL=WARNING $(BIN)/flask notifications send --every 5 & \
	sender=$$!; trap 'kill $$sender' EXIT INT TERM; \
	APP_ENV=development $(BIN)/flask run --host 127.0.0.1 --port 5000

# Debian's Chromium for the browser tests (Playwright drives it; it cannot download one).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Debian's nginx for the deployment test (tests/integration/test_deploy.py).
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light >/dev/null; }

# The Nu Html Checker for the HTML validity test, in a git-ignored folder (needs Java).
VNU_VERSION := 26.9.27
VNU_JAR := .tools/node_modules/vnu-jar/build/dist/vnu.jar
vnu: $(VNU_JAR)
$(VNU_JAR):
	npm install --prefix .tools --no-audit --no-fund --silent vnu-jar@$(VNU_VERSION)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make test: set up, lint, and run the whole suite (DATABASE_URL picks the database).
# One worker per core, each file's tests on one worker (a file's module fixtures and its
# Redis database stay its own); PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n auto --dist loadfile
test: $(VENV)/.test-deps translations chromium nginx vnu lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: the in-process engine benchmark (see bench/ and docs/PERFORMANCE.md for the others).
bench: $(VENV)/.test-deps
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache
