#!/usr/bin/env bash
# Print the path of a working interpreter for a Python minor version (e.g. `python_for.sh 3.12`).
#
# `python3.12` on PATH first. On this machine kind the interpreters are pyenv versions, and pyenv's
# shim for one that is not the global version exists on PATH but refuses to run, so then the
# newest installed pyenv version of that minor is used. Fails, saying so, when there is none.
set -euo pipefail
minor="${1:?usage: python_for.sh 3.12}"

if "python${minor}" -c 'import sys' >/dev/null 2>&1; then
    "python${minor}" -c 'import sys; print(sys.executable)'
    exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
    version="$(pyenv versions --bare 2>/dev/null | grep -E "^${minor//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true)"
    candidate="$(pyenv root)/versions/${version}/bin/python${minor}"
    if [ -n "${version}" ] && "${candidate}" -c 'import sys' >/dev/null 2>&1; then
        echo "${candidate}"
        exit 0
    fi
fi
echo "python_for.sh: no Python ${minor} here (neither python${minor} on PATH nor a pyenv version)" >&2
exit 1
