#!/bin/sh
# Test hook: answers something that is not JSON.
cat >/dev/null
echo "hello, I am not JSON"
