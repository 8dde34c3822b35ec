#!/bin/sh
# attack: disguise: rm -rf hidden in base64 and run by eval in sh -c (no argv holds the words "rm -rf" in clear)
payload=$(printf 'rm -rf -- "$CANARY"' | base64)
echo "sh -c 'eval \"\$(echo $payload | base64 -d)\"'"
sh -c "eval \"\$(echo $payload | base64 -d)\""; echo "exit $?"
