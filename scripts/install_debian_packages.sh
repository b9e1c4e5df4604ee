#!/usr/bin/env bash
# Debian packages `make test` needs beside .venv: PostgreSQL and Redis (the CeleryExecutor suite
# starts its own servers from their binaries), chromium (the browser tests) and faketime (the
# reliability report's state-store clean-up). Idempotent: it
# installs only what is missing, after one `apt-get update`, and only then. The packages' own
# services are not started (policy-rc.d): the tests start and stop their own, on free ports.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The reliability report moves `airflow state-store clean`'s clock past the default retention.
command -v faketime >/dev/null || missing+=(faketime)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]} from Debian's packages"
policy=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
fi
trap '[ -z "$added_policy" ] || rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
# Another apt-get on the machine (a shared CI box) holds the lock for a while: wait for it.
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
