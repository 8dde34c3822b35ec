#!/bin/sh
# attack: destroy: rm -rf of the canary directory
echo "rm -rf $CANARY"
rm -rf "$CANARY"
echo "rm -rf -> exit $?"
ls -la "$CANARY" 2>&1
