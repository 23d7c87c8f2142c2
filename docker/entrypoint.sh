#!/bin/sh
# The image's entrypoint: run dispatch as the user who owns the data folder.
#
# `docker run -v "$PWD:/data"` mounts a folder owned by the host's user (uid 1000, say), where
# the image's own user (10001) could not create the state file. Started as root (the default),
# this runs dispatch as the folder's owner instead, so what it writes there stays the host
# user's; a folder owned by root (a new named volume) is given to the image's user first.
# Started with --user, it runs dispatch as that user, as it is.
set -eu

data="${DISPATCH_DATA:-/data}"
image_user=10001

if [ "$(id -u)" = 0 ]; then
    owner="$(stat -c %u "$data")"
    group="$(stat -c %g "$data")"
    if [ "$owner" = 0 ]; then
        # A read-only mount stays as it is: the state may live elsewhere (PostgreSQL).
        chown "$image_user:$image_user" "$data" 2>/dev/null || true
        owner="$image_user"
        group="$image_user"
    fi
    exec setpriv --reuid="$owner" --regid="$group" --clear-groups -- "$0" "$@"
fi
exec dispatch "$@"
