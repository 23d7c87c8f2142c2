#!/bin/sh
# The browser test drives Debian's Chromium (browsers cannot be downloaded here): install it
# when it is missing. Uses sudo when not root.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install Chromium as /usr/bin/chromium to run the browser test (no apt-get here)" >&2
    exit 1
fi
as_root=""
if [ "$(id -u)" != 0 ]; then
    as_root="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
$as_root apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
