#!/bin/sh
# Test hook: raises every candidate annotated org.example.fast=yes by 5.
# Reads the whole input with cat, picks positions with python3.
input=$(cat)
printf '%s' "$input" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
out = [{"position": c["position"], "score": 5, "reason": "fast build"}
       for c in doc["candidates"]
       if c["annotations"].get("org.example.fast") == "yes"]
print(json.dumps({"adjustments": out}))
'
