#!/bin/sh
# Test hook: writes its pid to $1 and a background child's pid to $2,
# then sleeps far past any test timeout.
echo $$ > "$1.tmp" && mv "$1.tmp" "$1"
sleep 30 &
echo $! > "$2.tmp" && mv "$2.tmp" "$2"
sleep 30
echo '{"adjustments":[]}'
