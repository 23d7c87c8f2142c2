#!/bin/sh
# What the test suite needs from outside PyPI's wheels, fetched before it runs (tests never
# reach beyond 127.0.0.1 themselves):
#   - Debian's Chromium, for the browser test (browsers cannot be downloaded here); sudo is
#     used when not root;
#   - feedparser's source distribution, whose own test fixtures are our hostile-feed corpus.
set -eu
cd "$(dirname "$0")"
FEEDPARSER=6.0.14
if [ ! -f ".cache/feedparser-$FEEDPARSER.tar.gz" ]; then
    python3 -m pip download -q --no-binary :all: --no-deps --dest .cache "feedparser==$FEEDPARSER"
fi
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
