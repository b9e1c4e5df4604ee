# Two commands matter: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit bench reliability chaos sandbox clean debian-packages matrix matrix-pythons matrix-suites matrix-install-3.3 fuzz dist docs

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

# The whole suite: the in-process suites (IN_PROCESS) with $(MATRIX_WORKERS) pytest-xdist workers,
# then the ones that start real Airflow processes, browsers or builds (NOT_IN_MATRIX), one at a time.
test: lint debian-packages matrix-suites
	$(BIN)/python -m pytest -n $(MATRIX_WORKERS) $(IN_PROCESS)
	$(BIN)/python -m pytest $(NOT_IN_MATRIX)

# PostgreSQL, Redis and chromium from Debian's packages, with one `apt-get update`, when missing.
debian-packages:
	bash scripts/install_debian_packages.sh

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The throughput benchmark in real tasks (ledger through the api-server) on an older Airflow, in its
# matrix venv: `make bench-airflow-3.0` (ledger in Variables). BENCH_ARGS e.g. --small, --diagnose.
bench-airflow-%: .venv-airflow-%/.installed
	.venv-airflow-$*/bin/python -m benchmarks.bench_throughput_stack $(BENCH_ARGS)

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
	rm -rf $(VENV) .venv-3.* .venv-airflow-* .pin-venv-3.* .pin-venv-airflow-* .airflow .demo .pytest_cache .mypy_cache .ruff_cache dist docs/api/_build

# -- The matrix -----------------------------------------------------------------------------------
# `make matrix` (CI): the unit, sandbox, balance and DAG suites, then the LocalExecutor retry test
# on a real scheduler (and the Celery kill test on 3.0), on each Airflow minor in MATRIX_AIRFLOWS, each leg in its own venv
# (.venv-airflow-X.Y, on one Python: 3.11, 3.12 or 3.13, so CI runs every Python we support) from its
# pinned constraints file (make pin-airflow-X.Y) and beginning with the check that installing the
# provider keeps that Airflow; then that check on Airflow 3.3, whose suites run in `make test`.
# `make matrix-airflow-2.11` runs one leg. `make matrix-pythons`: Airflow 3.3's suites on
# Python 3.12 and 3.13 (.venv-3.12, .venv-3.13 from constraints-3.12.txt / -3.13.txt).
# README.md ("Airflow versions") says what each minor gets and which test checks it.
# The suites are named here; every other folder of tests/ must be named in NOT_IN_MATRIX (they need
# servers, browsers or real Airflow processes and run once, in `make test`).
MATRIX_PYTHONS ?= 3.12 3.13
MATRIX_AIRFLOWS ?= 3.2 3.1 3.0 2.11
PYTHON_FOR_AIRFLOW_2.11 := 3.11
PYTHON_FOR_AIRFLOW_3.0 := 3.12
PYTHON_FOR_AIRFLOW_3.1 := 3.12
PYTHON_FOR_AIRFLOW_3.2 := 3.13
# What the newest releases on PyPI broke for an older Airflow, capped when its pins are resolved:
# cryptography 51's Rust MultiFernet refuses the attribute Airflow < 3.2 sets on it (a connection
# then cannot be read); Airflow 3.0's execution API fails every task start on cadwyn 9 / FastAPI 0.165,
# and Airflow 3.2's on FastAPI >= 0.137 (a pydantic discriminator error) and on svcs 26.2, whose lifespan
# takes back the registry that 3.2's in-process execution API (dag.test()) reads from app.state.
# Airflow 3.0's ObjectStoragePath cannot be built with universal-pathlib 0.3 (3.1 caps it below 0.3).
# The Celery provider's executor imports celery.backends.database.retry, which celery 5.7 removed,
# and kombu 5.6's Redis transport needs redis < 6.5; the Celery provider 3.16 and later cannot run
# Airflow 3.0's tasks (3.17 leaves queue_workload to Airflow 3.1's executor, 3.16 needs team_name).
PIN_CAPS_2.11 := "cryptography<51" "celery<5.7" "redis<6.5"
PIN_CAPS_3.0 := "cryptography<51" "cadwyn<6" "fastapi<0.118" "universal-pathlib<0.3" "celery<5.7" "redis<6.5" \
  "apache-airflow-providers-celery<3.16"
PIN_CAPS_3.1 := "cryptography<51" "celery<5.7" "redis<6.5"
PIN_CAPS_3.2 := "svcs<26.2" "cadwyn<8" "fastapi<0.137" "celery<5.7" "redis<6.5"
# The suites that run in one process (their servers on loopback): `make test` runs them all on 3.3.
IN_PROCESS := tests/unit tests/sandbox tests/integration tests/balance tests/dags
# Each older Airflow's leg in CI: all but tests/integration (the pytest plugin in new projects and
# faults injected through dag.test(): 60% of a leg's time, and what makes CI too slow with five
# legs); the retry test below checks the guarantee on a real scheduler instead. All of them by hand:
#   make matrix-airflow-3.0 MATRIX_SUITES="tests/unit tests/sandbox tests/integration tests/balance tests/dags"
MATRIX_SUITES ?= tests/unit tests/sandbox tests/balance tests/dags
NOT_IN_MATRIX := tests/e2e tests/browser tests/benchmarks tests/packaging tests/docs
# Parallel workers per leg (pytest-xdist); the suites start their servers on free ports.
MATRIX_WORKERS ?= 2
# On each older Airflow, on a real scheduler: a try that dies mid-campaign is finished by the retry.
MATRIX_E2E := tests/e2e/test_local_executor_retry.py
# On the oldest Airflow 3 (3.3's runs in `make test`): a Celery worker killed mid-campaign.
MATRIX_E2E_3.0 := tests/e2e/test_celery_executor.py

matrix: matrix-suites $(addprefix matrix-airflow-,$(MATRIX_AIRFLOWS)) matrix-install-3.3

matrix-pythons: matrix-suites $(addprefix matrix-,$(MATRIX_PYTHONS))

# Fails when a folder of tests/ is in neither list, so no suite is left out unnoticed.
matrix-suites:
	@for suite in tests/*/; do suite=$${suite%/}; \
	  case " $(IN_PROCESS) $(NOT_IN_MATRIX) " in *" $$suite "*) ;; \
	  *) echo "make matrix: $$suite is in neither IN_PROCESS nor NOT_IN_MATRIX (Makefile)" >&2; exit 1;; esac; \
	done
	@echo "make matrix: $(MATRIX_SUITES) on Airflow $(MATRIX_AIRFLOWS); not in the matrix: $(NOT_IN_MATRIX)"

# One leg: installing the provider keeps that Airflow, then the suites.
matrix-airflow-%: .venv-airflow-%/.installed debian-packages
	bash scripts/check_install_keeps_airflow.sh .venv-airflow-$*
	.venv-airflow-$*/bin/python -m pytest -q -n $(MATRIX_WORKERS) $(MATRIX_SUITES)
	.venv-airflow-$*/bin/python -m pytest -q $(MATRIX_E2E) $(MATRIX_E2E_$*)

# Airflow 3.3's suites run in `make test`; here only the install check, in its .venv.
matrix-install-3.3: $(STAMP)
	bash scripts/check_install_keeps_airflow.sh $(VENV)

# One Python leg on Airflow 3.3.
matrix-3.%: .venv-3.%/.installed
	.venv-3.$*/bin/python -m pytest -q -n $(MATRIX_WORKERS) $(IN_PROCESS)

.PRECIOUS: .venv-3.%/.installed
.venv-3.%/.installed: pyproject.toml constraints-3.%.txt
	test -x .venv-3.$*/bin/python || "$$(bash scripts/python_for.sh 3.$*)" -m venv .venv-3.$*
	.venv-3.$*/bin/python -m pip install --quiet --upgrade "pip>=24"
	.venv-3.$*/bin/python -m pip install --quiet -c constraints-3.$*.txt -e ".[test]"
	touch $@

# Re-resolve a matrix Python's pins from PyPI with that interpreter, under constraints.txt's pins.
pin-3.%:
	rm -rf .pin-venv-3.$*
	"$$(bash scripts/python_for.sh 3.$*)" -m venv .pin-venv-3.$*
	.pin-venv-3.$*/bin/python -m pip install --quiet --upgrade "pip>=24"
	.pin-venv-3.$*/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
	{ echo "# Pins for Python 3.$* (make matrix), resolved from PyPI with Python 3.$* under constraints.txt's pins"; \
	  echo "# (the 3.11 set make test uses). Regenerate with: make pin-3.$*"; \
	  .pin-venv-3.$*/bin/python -m pip freeze --exclude-editable; } > constraints-3.$*.txt
	rm -rf .pin-venv-3.$*

# Kept between runs: make would otherwise delete a pattern rule's target as intermediate.
.PRECIOUS: .venv-airflow-%/.installed
.venv-airflow-%/.installed: pyproject.toml constraints-airflow-%.txt
	test -x .venv-airflow-$*/bin/python || "$$(bash scripts/python_for.sh $(PYTHON_FOR_AIRFLOW_$*))" -m venv .venv-airflow-$*
	.venv-airflow-$*/bin/python -m pip install --quiet --upgrade "pip>=24"
	.venv-airflow-$*/bin/python -m pip install --quiet -c constraints-airflow-$*.txt -e ".[test]"
	touch $@

# Re-resolve an Airflow minor's pins from PyPI: its latest patch, with the leg's Python.
pin-airflow-%:
	rm -rf .pin-venv-airflow-$*
	"$$(bash scripts/python_for.sh $(PYTHON_FOR_AIRFLOW_$*))" -m venv .pin-venv-airflow-$*
	.pin-venv-airflow-$*/bin/python -m pip install --quiet --upgrade "pip>=24"
	.pin-venv-airflow-$*/bin/python -m pip install --quiet "apache-airflow==$*.*" $(PIN_CAPS_$*) -e ".[test]"
	{ echo "# Pins for Airflow $* on Python $(PYTHON_FOR_AIRFLOW_$*) (make matrix), resolved from PyPI: the"; \
	  echo "# latest Airflow $*, the newest of everything else that goes with it, under: $(PIN_CAPS_$*)"; \
	  echo "# Regenerate with: make pin-airflow-$*"; \
	  .pin-venv-airflow-$*/bin/python -m pip freeze --exclude-editable; } > constraints-airflow-$*.txt
	rm -rf .pin-venv-airflow-$*
