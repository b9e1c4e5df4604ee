# Two commands matter: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit bench reliability chaos sandbox clean debian-packages matrix matrix-suites fuzz dist docs

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

# The property tests and state machines (marker `property`) with many more, random examples than
# make test's fixed profile: FUZZ_EXAMPLES per test (default 5000, about ten minutes on 2 cores).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m property --hypothesis-show-statistics -p no:cacheprovider tests/unit

reliability: $(STAMP)
	$(BIN)/python -m benchmarks.reliability

# Airflow's own components (api-server, scheduler) killed, hung and restarted mid-campaign on a
# real stack (tests/e2e); CHAOS_ARGS=--postgres runs it on PostgreSQL with a database restart.
chaos: $(STAMP) debian-packages
	$(BIN)/python -m benchmarks.chaos $(CHAOS_ARGS)

sandbox: $(STAMP)
	$(BIN)/fullsms-sandbox

# The sdist and the wheel in dist/, checked (--strict) as PyPI will render their description.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The API reference from the docstrings (Sphinx autodoc), warnings as errors: docs/api/_build/html.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs/api docs/api/_build/html

clean:
	rm -rf $(VENV) .venv-3.* .pin-venv-3.* .airflow .demo .pytest_cache .mypy_cache .ruff_cache dist docs/api/_build

# -- Python matrix: the unit, sandbox and DAG suites on every Python the package supports -------
# Each Python has its own venv and its own pinned constraints file: 3.11 is `make test`'s .venv and
# constraints.txt; 3.12 and 3.13 are .venv-3.12 and .venv-3.13 from constraints-3.12.txt and
# constraints-3.13.txt. The suites are named here; every other folder of tests/ must be named in
# NOT_IN_MATRIX (they need servers, browsers or real Airflow processes and run once, in `make test`).
MATRIX_PYTHONS ?= 3.11 3.12 3.13
MATRIX_SUITES := tests/unit tests/sandbox tests/integration tests/balance tests/dags
NOT_IN_MATRIX := tests/e2e tests/browser tests/benchmarks tests/packaging tests/docs

matrix: matrix-suites $(addprefix matrix-,$(MATRIX_PYTHONS))

# Fails when a folder of tests/ is in neither list, so no suite is left out unnoticed.
matrix-suites:
	@for suite in tests/*/; do suite=$${suite%/}; \
	  case " $(MATRIX_SUITES) $(NOT_IN_MATRIX) " in *" $$suite "*) ;; \
	  *) echo "make matrix: $$suite is in neither MATRIX_SUITES nor NOT_IN_MATRIX (Makefile)" >&2; exit 1;; esac; \
	done
	@echo "make matrix: $(MATRIX_SUITES) on Python $(MATRIX_PYTHONS); not in the matrix: $(NOT_IN_MATRIX)"

matrix-3.11: $(STAMP)
	$(BIN)/python -m pytest -q $(MATRIX_SUITES)

matrix-%: .venv-%/.installed
	.venv-$*/bin/python -m pytest -q $(MATRIX_SUITES)

# Kept between runs: make would otherwise delete a pattern rule's target as intermediate.
.PRECIOUS: .venv-%/.installed
.venv-%/.installed: pyproject.toml constraints-%.txt
	test -x .venv-$*/bin/python || "$$(bash scripts/python_for.sh $*)" -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade "pip>=24"
	.venv-$*/bin/python -m pip install --quiet -c constraints-$*.txt -e ".[test]"
	touch $@

# Re-resolve a matrix Python's pins from PyPI with that interpreter, under constraints.txt's pins.
pin-%:
	rm -rf .pin-venv-$*
	"$$(bash scripts/python_for.sh $*)" -m venv .pin-venv-$*
	.pin-venv-$*/bin/python -m pip install --quiet --upgrade "pip>=24"
	.pin-venv-$*/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
	{ echo "# Pins for Python $* (make matrix), resolved from PyPI with Python $* under constraints.txt's pins"; \
	  echo "# (the 3.11 set make test uses). Regenerate with: make pin-$*"; \
	  .pin-venv-$*/bin/python -m pip freeze --exclude-editable; } > constraints-$*.txt
	rm -rf .pin-venv-$*
