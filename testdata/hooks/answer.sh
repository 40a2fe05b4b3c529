#!/bin/sh
# Test hook: reads its input, then prints $1 verbatim as its answer.
cat >/dev/null
printf '%s' "$1"
