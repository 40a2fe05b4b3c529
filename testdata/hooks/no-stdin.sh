#!/bin/sh
# Test hook: answers without ever reading its input.
echo '{"adjustments":[{"position":1,"score":2,"reason":"answered without reading"}]}'
