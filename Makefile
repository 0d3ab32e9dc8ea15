# make run   — set up and start the server on the embedded default (SQLite, in-process queue)
# make test  — set up and run the whole test suite (needs PostgreSQL and Redis on 127.0.0.1)
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
DEMO_USER ?= demo.officer
DEMO_PASSWORD ?= Petugas-Demo-2026
DEMO_SUPERVISOR ?= demo.supervisor

.PHONY: setup run test lint bench chromium coturn tesseract web-deps services run-cluster clean

$(BIN)/python:
	@$(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip

# Quiet: pip's and the build backend's output goes to a log, shown only if the install fails.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing Python dependencies (log: $(VENV)/pip-install.log)"
	@$(BIN)/pip install -q -e '.[dev]' >$(VENV)/pip-install.log 2>&1 \
	  || { cat $(VENV)/pip-install.log; exit 1; }
	@touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	@cd web && npm ci --no-audit --no-fund --silent
	@touch $@

web-deps: web/node_modules/.installed

setup: $(VENV)/.installed web-deps tesseract

# Officer assist reads KTPs with Debian's Tesseract and its Indonesian data (docs/assist.md).
tesseract:
	@tesseract --list-langs 2>/dev/null | grep -qx ind || { \
	  echo "installing Debian tesseract-ocr and tesseract-ocr-ind for the KTP reading"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    tesseract-ocr tesseract-ocr-ind fonts-liberation fonts-dejavu-core) >/dev/null; }

chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core) >/dev/null; }

coturn:
	@command -v turnserver >/dev/null || { \
	  echo "installing Debian coturn for the TURN relay (tests, make run-cluster)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn) >/dev/null; }

# make run [PORT=8080] [HOST=127.0.0.1] [PUBLIC_URL=https://...]; stop with Ctrl+C.
run: setup
	@mkdir -p data
	@$(BIN)/python -m videocall.adapters.migrate
	@ACCOUNT_PASSWORD='$(DEMO_PASSWORD)' $(BIN)/python -m videocall.adapters.accounts_cli create --if-missing \
	  --username $(DEMO_USER) --role officer --name "Petugas Demo" >/dev/null
	@ACCOUNT_PASSWORD='$(DEMO_PASSWORD)' $(BIN)/python -m videocall.adapters.accounts_cli create --if-missing \
	  --username $(DEMO_SUPERVISOR) --role supervisor --name "Supervisor Demo" >/dev/null
	@echo ""
	@URL="$${PUBLIC_URL:-http://$(HOST):$(PORT)}"; \
	  echo "  Participant:  $$URL/"; \
	  echo "  Officer:      $$URL/officer"; \
	  echo "  Supervisor:   $$URL/supervisor"
	@echo "  Demo officer login:     $(DEMO_USER) / $(DEMO_PASSWORD)"
	@echo "  Demo supervisor login:  $(DEMO_SUPERVISOR) / $(DEMO_PASSWORD)"
	@echo "  Demo NIK to register:   3201014101900001 (a woman born 01/01/1990; change the last 4 digits for another)"
	@echo "  (demo: service hours open around the clock; set SERVICE_HOURS to change)"
	@echo "  Stop with Ctrl+C."
	@echo ""
	@SERVICE_HOURS=$${SERVICE_HOURS:-always} $(BIN)/python server.py --host $(HOST) --port $(PORT)

services:
	@bash .ci/services.sh

# Parallel workers (pytest-xdist): most tests wait on timers, sockets and subprocesses, so 2
# workers fit 2 cores; TEST_WORKERS=0 runs everything in this process. How the work is split:
# tests/conftest.py (SERIAL_GROUPS) and docs/operations.md ("The test suite").
TEST_WORKERS ?= 2
test: setup chromium coturn services
	$(BIN)/ruff check .
	$(BIN)/mypy videocall signaling recording media web server.py
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder \
	  $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy videocall signaling recording media web server.py
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench.all

run-cluster: setup coturn services
	bash deploy/run-cluster.sh $${N:-3} $${FIRST_PORT:-8081}

clean:
	rm -rf $(VENV) web/node_modules data test-output
