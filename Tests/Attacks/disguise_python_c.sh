#!/bin/bash
# attack: disguise: python3 -c 'import shutil; shutil.rmtree(...)' as a one-line command (the exec is python3)
# stopped by: sign-off(delete)
echo "python3 -c 'import shutil, os; shutil.rmtree(os.environ[\"CANARY\"])'"
python3 -c 'import shutil, os; shutil.rmtree(os.environ["CANARY"])'; echo "exit $?"
