#!/usr/bin/env python3
"""Writes a chained queue file of N events (request + resolve pairs) for timing replays:
   make-queue.py FILE N"""
import hashlib, json, sys

path, count = sys.argv[1], int(sys.argv[2])
alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
prev = "0" * 64
with open(path, "wb") as out:
    for seq in range(1, count + 1):
        n = (seq + 1) // 2
        rid = "".join(alphabet[(n // len(alphabet) ** k) % len(alphabet)] for k in range(6))
        ts = f"2026-11-26T10:{(seq // 60000) % 60:02d}:{(seq // 1000) % 60:02d}.{seq % 1000:03d}Z"
        if seq % 2:
            event = {"cwd": "/work/ws", "digest": hashlib.sha256(rid.encode()).hexdigest(), "event": "request",
                     "exe": "/usr/bin/rm (dev 1 ino 2)", "expires": "2026-11-26T23:00:00.000Z", "id": rid,
                     "kind": "delete", "path": f"/work/ws/data/file-{n}.env", "pid": 1000 + n % 30000,
                     "quorum": 2, "requester": "bench", "rule": "dotenv files", "sandbox": "bench0001"}
        else:
            event = {"detail": "delete", "errno": 1, "event": "resolve", "id": rid, "outcome": "expired"}
        event.update(seq=seq, ts=ts, prev=prev)
        line = (json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n").encode()
        out.write(line)
        prev = hashlib.sha256(line).hexdigest()
