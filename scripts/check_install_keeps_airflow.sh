#!/usr/bin/env bash
# Installing the provider never changes the installed Airflow (`make matrix`, each leg).
#
# In a venv that has Airflow X, install the provider as a user would: from its source, with its
# dependencies (no --no-deps) and without this repository's constraints, so pip is free to upgrade
# Airflow if the provider's requirements asked for it. Then check that Airflow is still X (its
# distribution and `airflow version`), that `pip check` finds no broken requirement and that Airflow
# lists the provider. The editable install the suites use is put back at the end.
#
# Usage: check_install_keeps_airflow.sh VENV   (e.g. .venv-airflow-3.0)
set -euo pipefail
venv="${1:?usage: check_install_keeps_airflow.sh VENV}"
py="${venv}/bin/python"
installed_airflow() { "${py}" -c 'from importlib.metadata import version; print(version("apache-airflow"))'; }

before="$(installed_airflow)"
# Airflow's own state (a config, a SQLite file) goes to a throw-away home, never ~/airflow.
AIRFLOW_HOME="$(mktemp -d)"
export AIRFLOW_HOME
trap 'rm -rf "${AIRFLOW_HOME}"; "${py}" -m pip install --quiet --no-deps -e .' EXIT

"${py}" -m pip install --quiet --no-build-isolation .
after="$(installed_airflow)"
cli="$("${venv}/bin/airflow" version 2>/dev/null | tail -n 1)"
if [ "${after}" != "${before}" ] || [ "${cli}" != "${before}" ]; then
    echo "install check: installing the provider changed Airflow ${before} to ${after} (airflow version: ${cli})" >&2
    exit 1
fi
"${py}" -m pip check
if ! "${venv}/bin/airflow" providers list 2>/dev/null | grep -q "airflow-provider-fullsms"; then
    echo "install check: Airflow ${after} does not list airflow-provider-fullsms (airflow providers list)" >&2
    exit 1
fi
echo "install check: Airflow ${before} kept; pip check clean; provider registered"
