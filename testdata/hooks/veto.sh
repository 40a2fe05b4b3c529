#!/bin/sh
# Test hook: vetoes the position given as $1 (plain sh), after reading its input.
cat >/dev/null
printf '{"adjustments":[{"position":%s,"veto":true,"reason":"vetoed by test"}]}\n' "$1"
