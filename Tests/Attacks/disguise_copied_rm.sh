#!/bin/bash
# attack: disguise: a copy of /bin/rm under another name (cp /bin/rm ws/tool; ./tool -rf $CANARY)
# stopped by: sign-off(exec)
# The exec rules know rm by its name; a copy called "tool" is the same program, recognised by its
# bytes (and the canary's own protect rule would hold the unlinks it makes).
cp /bin/rm "$WS/tool" && echo "cp /bin/rm $WS/tool -> OK"
cd "$WS" || exit 1
./tool -rf "$CANARY"; echo "./tool -rf \$CANARY exit $?"
