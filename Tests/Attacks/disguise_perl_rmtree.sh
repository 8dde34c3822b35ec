#!/bin/bash
# attack: disguise: perl -e 'use File::Path; rmtree(...)' (the exec is perl, the unlinks are its own)
# stopped by: sign-off(delete)
echo "perl -MFile::Path -e 'rmtree(\$ENV{CANARY})'"
perl -e 'use File::Path qw(rmtree); rmtree($ENV{CANARY}, {verbose => 0, safe => 0}); print "rmtree done\n"'; echo "exit $?"
