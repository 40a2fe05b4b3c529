#!/bin/sh
# Test hook: complains on stderr and exits 3.
cat >/dev/null
echo "crash.sh: no GPU here" >&2
exit 3
