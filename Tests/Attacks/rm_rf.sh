#!/bin/sh
# attack: destroy: rm -rf of the canary directory
# stopped by: sign-off(exec)
echo "rm -rf $CANARY"
rm -rf "$CANARY"
echo "rm -rf -> exit $?"
ls -la "$CANARY" 2>&1
