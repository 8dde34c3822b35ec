#!/bin/bash
# attack: disguise: the dynamic loader runs rm in its own process (ld-linux-x86-64.so.2 /bin/rm -rf $CANARY)
# stopped by: sign-off(exec)
# execve's program is the loader; rm's code runs without a second execve, so only the loader's
# argv is there to classify.
for ld in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
    [ -x "$ld" ] || continue
    echo "$ld /bin/rm -rf \$CANARY"
    "$ld" /bin/rm -rf "$CANARY"; echo "exit $?"
    break
done
