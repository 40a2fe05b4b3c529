#!/bin/sh
# Test hook: 100 kB of complaints on stderr, then exit 1.
cat >/dev/null
yes 'line of complaint' | head -c 100000 >&2
exit 1
