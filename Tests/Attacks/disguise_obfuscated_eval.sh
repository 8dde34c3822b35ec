#!/bin/bash
# attack: disguise: rm -rf hidden in base64 and run by eval in bash -c (no argv holds the words "rm -rf" in clear)
# stopped by: sign-off(exec)
payload=$(printf 'rm -rf -- "$CANARY"' | base64)
echo "bash -c 'eval \"\$(echo $payload | base64 -d)\"'"
bash -c "eval \"\$(echo $payload | base64 -d)\""; echo "exit $?"
