#!/usr/bin/env bash
# Install everything the tests need and run the whole suite (README command (b)).
#   - Debian packages for the real Secret Service (gnome-keyring, dbus) when missing;
#   - PostgreSQL and Redis started if they are down (scripts/services.sh);
#   - a virtual environment in .venv with the package and its test extras;
#   - pytest inside a private D-Bus session with an unlocked gnome-keyring.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing gnome-keyring/dbus (install them with: sudo apt-get install gnome-keyring dbus)" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnome-keyring dbus >/dev/null
fi

bash scripts/services.sh

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

exec bash scripts/keyring-session.sh .venv/bin/python -m pytest "$@"
