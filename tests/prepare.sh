#!/bin/sh
# What the test suite needs from outside PyPI's wheels, fetched before it runs (tests never
# reach beyond 127.0.0.1 themselves):
#   - Debian's Chromium, for the browser test (browsers cannot be downloaded here), nginx,
#     the benchmark's feed server, postfix for its smtp-sink, the benchmark's SMTP sink (the
#     mail server itself is left unconfigured and not started), and PostgreSQL, whose server
#     the tests start on 127.0.0.1 in a folder of their own; sudo is used when not root;
#   - feedparser's source distribution, whose own test fixtures are our hostile-feed corpus;
#   - rss2email and feed2exec in their own environment, bench/.peers: the benchmark's peers;
#   - the networks' own code from the npm registry, in tests/oracles: Bluesky's rich-text
#     detection (@atproto/api) and X's twitter-text, the judges of what dispatch sends (Node.js
#     from Debian where the machine has none);
#   - libfaketime (Debian's faketime), which steps the clock of a `dispatch run` under test.
set -eu
cd "$(dirname "$0")"
FEEDPARSER=6.0.14
if [ ! -f ".cache/feedparser-$FEEDPARSER.tar.gz" ]; then
    python3 -m pip download -q --no-binary :all: --no-deps --dest .cache "feedparser==$FEEDPARSER"
fi
if [ ! -x ../bench/.peers/bin/feed2exec ] || [ ! -x ../bench/.peers/bin/r2e ]; then
    python3 -m venv ../bench/.peers
    ../bench/.peers/bin/pip install -q --disable-pip-version-check rss2email==3.14 feed2exec==0.23.0
fi
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -x /usr/sbin/smtp-sink ] || missing="$missing postfix"
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing="$missing faketime"
install_oracles() {
    if [ ! -d oracles/node_modules/@atproto/api ] || [ ! -d oracles/node_modules/twitter-text ]; then
        (cd oracles && npm ci --silent --no-audit --no-fund)
    fi
}
if [ -z "$missing" ]; then
    install_oracles
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install$missing to run the browser, PostgreSQL and benchmark tests (no apt-get here)" >&2
    exit 1
fi
as_root=""
if [ "$(id -u)" != 0 ]; then
    as_root="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# postfix asks how to deliver mail: not at all, we only want its smtp-sink.
echo "postfix postfix/main_mailer_type select No configuration" | $as_root debconf-set-selections
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq $missing >/dev/null
install_oracles
