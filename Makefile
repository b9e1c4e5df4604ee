# Two commands matter: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit bench reliability sandbox clean debian-packages

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint debian-packages
	$(BIN)/python -m pytest

# PostgreSQL, Redis and chromium from Debian's packages, with one `apt-get update`, when missing.
debian-packages:
	bash scripts/install_debian_packages.sh

bench: $(STAMP)
	$(BIN)/python -m benchmarks

reliability: $(STAMP)
	$(BIN)/python -m benchmarks.reliability

sandbox: $(STAMP)
	$(BIN)/fullsms-sandbox

clean:
	rm -rf $(VENV) .airflow .demo .pytest_cache .mypy_cache .ruff_cache
