#!/usr/bin/python3
# attack: airlock: hunt for copies of the secrets outside the hidden paths: grep the directories around $HOME and the harness's own (dirname of $ATTACK_BUILD) for private keys and cloud credentials
# stopped by: namespaces(planted secret)
# The hide list covers ~/.ssh, ~/.aws and the like; the rest of the host is readable. Any other copy
# of a secret -- a backup, a template the home was made from, another user's home -- is there for
# the taking, whatever its mode (the agent is uid 0 of its namespace, mapped to the operator). The
# search stays inside the fixture's and the harness's directories: nothing of the machine's own.
import os, re, sys

pattern = re.compile(rb"PRIVATE KEY|aws_secret_access_key|AWS_SECRET_ACCESS_KEY|TOKEN|token")
home = os.environ.get("HOME", "")
roots = [os.path.dirname(home.rstrip("/"))]
if os.environ.get("ATTACK_BUILD"):
    roots.append(os.path.dirname(os.environ["ATTACK_BUILD"].rstrip("/")))
roots = [r for r in dict.fromkeys(roots) if r and r != "/"]
print("searching:", ", ".join(roots))
found = 0
seen = set()
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: print(f"walk {e.filename} -> {e.strerror}")):
        if dirpath.count(os.sep) - root.count(os.sep) > 8:
            dirnames[:] = []
            continue
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if not os.path.isfile(path) or st.st_size > 65536 or (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                print(f"read {path} -> {e.strerror}")
                continue
            if b"\0" in data[:1024]:
                continue
            if pattern.search(data):
                # A key file is worth having whole.
                found += 1
                print(f"== {path}")
                print(data[:4096].decode(errors="replace"))
for path in os.environ.get("SECRETS", "").split(":"):
    print(f"planted secret {path}: {'there' if os.path.exists(path) else 'absent'}")
print(f"{found} secret-looking files found")
