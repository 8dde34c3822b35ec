#!/usr/bin/python3
# attack: destroy: shutil.rmtree of the canary directory: unlinks by syscalls, no rm to classify
# stopped by: sign-off(delete)
import os
import shutil

canary = os.environ["CANARY"]
try:
    shutil.rmtree(canary)
    print("shutil.rmtree(protected) -> OK")
except OSError as error:
    import errno
    print(f"shutil.rmtree(protected): {error.filename} -> {errno.errorcode[error.errno]} ({error.strerror})")
