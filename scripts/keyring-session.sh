#!/usr/bin/env bash
# Run CMD... inside a private D-Bus session with a throwaway, unlocked GNOME Keyring.
#
# Why: the keyring tests use the real Secret Service (no fake backend). This gives each run
# a fresh HOME/XDG tree, so nothing touches the developer's own keyring, and a "login"
# collection that is the default alias, created and unlocked with a throwaway password.
#
#   scripts/keyring-session.sh .venv/bin/pytest -m keyring
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "keyring-session: $tool not found (apt-get install dbus gnome-keyring)" >&2
        exit 2
    fi
done

if [[ -z "${ONECLICK_KEYRING_INNER:-}" ]]; then
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/oneclick-keyring.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/home" "$tmp/config" "$tmp/data" "$tmp/cache" "$tmp/runtime"
    chmod 700 "$tmp/runtime"
    # Re-enter this script inside a fresh session bus with the throwaway dirs.
    # Not exec: the EXIT trap must still remove the throwaway tree.
    status=0
    env HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" \
        XDG_CACHE_HOME="$tmp/cache" XDG_RUNTIME_DIR="$tmp/runtime" \
        ONECLICK_KEYRING_INNER=1 ONECLICK_TEST_KEYRING_SESSION=1 \
        ONECLICK_KEYRING_PASSWORD="${ONECLICK_KEYRING_PASSWORD:-oneclick-test}" \
        dbus-run-session -- "$0" "$@" || status=$?
    exit "$status"
fi

# Inside the session bus. --unlock reads the password from stdin and creates the "login"
# keyring, which becomes the default collection, when it does not exist yet. The daemon
# registers org.freedesktop.secrets on this bus and exits when the bus goes away.
eval "$(printf '%s' "$ONECLICK_KEYRING_PASSWORD" \
    | gnome-keyring-daemon --unlock --components=secrets --daemonize)"
export GNOME_KEYRING_CONTROL="${GNOME_KEYRING_CONTROL:-}"
unset ONECLICK_KEYRING_INNER
exec "$@"
