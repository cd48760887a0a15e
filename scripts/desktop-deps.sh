#!/usr/bin/env bash
# The desktop-capture tests need Xvfb and xdotool (tests/support/desktop.py). Nothing to do when
# both exist; as root on Debian or Ubuntu, install them with apt-get; otherwise say what to install.
set -euo pipefail
if command -v Xvfb >/dev/null && command -v xdotool >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq xvfb xdotool >/dev/null
    exit 0
fi
echo "the desktop tests need Xvfb and xdotool: apt-get install xvfb xdotool" >&2
exit 1
