# Tuangou — `make help` lists every target.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
# Every dependency pinned (pyproject.toml's, with the dev and embedded extras):
# `make lock` writes it, `make install` installs exactly it, `make audit` checks it.
LOCK := requirements.lock

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast test-faketime lint format messages app-messages check bench bench-quick bench-http bench-flash bench-wave bench-facts clean lock audit

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r $(LOCK)
	$(PYTHON) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install everything
	DEBUG=true $(PYTHON) manage.py compilemessages --ignore '.venv/*' --ignore 'var/*' --verbosity 0

run: install ## Set up and run the whole app with demo data (web + worker + beat)
	$(PYTHON) scripts/run.py

test: install ## Run the whole test suite on PostgreSQL and Redis (parallel)
	$(PYTHON) scripts/services.py ensure
	$(BIN)/pytest -n 2 --dist loadgroup $(ARGS)

test-fast: install ## Tests without the browser ones
	$(BIN)/pytest -n 2 -m "not browser" $(ARGS)

test-faketime: install ## The suite on other days (libfaketime): month end, 31 Dec 23:30 Shanghai, a year on
	$(PYTHON) scripts/services.py ensure
	$(PYTHON) scripts/faketime_suite.py $(ARGS)

lint: install ## ruff check + format check, migrations check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTHON) manage.py makemigrations --check --dry-run

format: install ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

APPS := catalog leaders marketing orders groupbuy logistics analytics
messages: install ## Extract strings into the project's and every app's zh_Hans catalogue
	DEBUG=true $(PYTHON) manage.py makemessages -l zh_Hans --no-obsolete --ignore '.venv/*' --ignore 'var/*' $(foreach a,$(APPS),--ignore '$(a)/*')
	@for app in $(APPS); do if [ -d $$app/locale ] && [ -n "$$(find $$app -name '*.py' -newer /dev/null -o -name '*.html' | head -1)" ]; then $(MAKE) --no-print-directory app-messages APP=$$app; fi; done
	DEBUG=true $(PYTHON) manage.py compilemessages --ignore '.venv/*' --verbosity 0

app-messages: install ## Extract one app's strings into its own catalogue: make app-messages APP=catalog
	cd $(APP) && DEBUG=true ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete --settings=tuangou.settings --pythonpath=..
	cd $(APP) && DEBUG=true ../$(BIN)/django-admin compilemessages --settings=tuangou.settings --pythonpath=.. --verbosity 0

check: lint test ## Everything CI checks

bench: install ## Every benchmark (~25 min, 16 of them the 10M-order facts): HTTP beside pgbench, the 秒杀 gate, the 1M-line wave, 10M orders' facts
	$(PYTHON) scripts/services.py ensure
	$(PYTHON) benchmarks/run.py $(ARGS)
	$(PYTHON) benchmarks/flash.py
	DEBUG=true $(PYTHON) manage.py bench_wave --lines 1000000 --points 2000
	DEBUG=true $(PYTHON) manage.py bench_facts --orders 10000000

bench-quick: install ## The HTTP benchmark short (~2 min) and small runs of the others, for development
	$(PYTHON) scripts/services.py ensure
	$(PYTHON) benchmarks/run.py --quick $(ARGS)
	$(PYTHON) benchmarks/flash.py --seconds 5 --rounds 1
	DEBUG=true $(PYTHON) manage.py bench_wave --lines 50000 --points 200
	DEBUG=true $(PYTHON) manage.py bench_facts --orders 200000

bench-http: install ## Only the HTTP benchmark beside pgbench (~4 min); table into docs/benchmarks.md
	$(PYTHON) scripts/services.py ensure
	$(PYTHON) benchmarks/run.py $(ARGS)

bench-flash: install ## Only the 秒杀 gate under HTTP load, beside a bare view and database mode
	$(PYTHON) scripts/services.py ensure
	$(PYTHON) benchmarks/flash.py $(ARGS)

bench-wave: install ## Only the cutoff wave over 1,000,000 order lines and 2,000 pickup points
	$(PYTHON) scripts/services.py ensure
	DEBUG=true $(PYTHON) manage.py bench_wave --lines 1000000 --points 2000 $(ARGS)

bench-facts: install ## Only the analytics facts over 10,000,000 orders and the slowest report query
	$(PYTHON) scripts/services.py ensure
	DEBUG=true $(PYTHON) manage.py bench_facts --orders 10000000 $(ARGS)

lock: ## Pin every dependency of pyproject.toml (dev and embedded extras) into requirements.lock
	$(BIN)/pip-compile --quiet --extra dev --extra embedded --strip-extras --no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

audit: install ## Known vulnerabilities in the locked dependencies (pip-audit; needs PyPI's JSON API: fails when it cannot check)
	$(PYTHON) scripts/audit.py $(LOCK)

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
