#!/bin/sh
# Test hook: names a position no index in the tests has.
cat >/dev/null
echo '{"adjustments":[{"position":99,"score":1}]}'
