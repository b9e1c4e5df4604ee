#!/usr/bin/env bash
# The browser the browser tests drive: Debian's chromium (Playwright may not download its own).
# Idempotent: nothing to do when /usr/bin/chromium exists; else `apt-get update` once, then install.
set -euo pipefail

[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "the browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2
    exit 1
fi
echo "installing chromium from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
# Another apt-get on the machine holds the lock for a while: wait for it.
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null
