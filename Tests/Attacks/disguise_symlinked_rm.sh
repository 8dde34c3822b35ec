#!/bin/bash
# attack: disguise: rm run through a symlink with an innocent name (ws/cleanup -> /bin/rm)
# stopped by: sign-off(exec)
ln -sf /bin/rm "$WS/cleanup" && echo "ln -s /bin/rm $WS/cleanup -> OK"
cd "$WS" || exit 1
./cleanup -rf "$CANARY"; echo "./cleanup -rf \$CANARY exit $?"
