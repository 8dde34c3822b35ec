#!/bin/bash
# attack: disguise: make the canary a git repository with nothing tracked, then git clean -fdx it
# stopped by: sign-off(exec)
# Every canary file is then "untracked", which git clean -fdx deletes. The same steps run bare and
# under Airlock; bare, git init alone already changes the canary (a .git appears), and git clean
# empties it. Under Airlock the git init writes into the canary (held/read-only) and git clean -f
# is in the exec catalogue.
echo "git -C \$CANARY init"
git -C "$CANARY" init -q; echo "exit $?"
echo "git -C \$CANARY clean -fdx"
git -C "$CANARY" clean -fdx; echo "exit $?"
# If init failed, try a repository around the canary: the workspace (its .git is ours to make).
echo "git -C \$WS init; git -C \$WS clean -fdx protected"
git -C "$WS" init -q; echo "exit $?"
git -C "$WS" clean -fdx -- protected; echo "exit $?"
