"""The approvers the benchmarks sign with: real ed25519 keys from ssh-keygen and their allowed_signers."""
import os, subprocess


def make_approvers(root, names=("alice", "bob")):
    """Makes a key per name in ROOT/keys and ROOT/allowed_signers listing them; returns
    (keys directory, allowed_signers path)."""
    keys = os.path.join(root, "keys")
    os.makedirs(keys, exist_ok=True)
    signers = []
    for name in names:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", f"{keys}/{name}"], check=True)
        kind, b64 = open(f"{keys}/{name}.pub").read().split()[:2]
        signers.append(f"{name} {kind} {b64}")
    allowed = os.path.join(root, "allowed_signers")
    with open(allowed, "w") as f:
        f.write("\n".join(signers) + "\n")
    return keys, allowed
