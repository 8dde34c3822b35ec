#!/usr/bin/env python3
"""Sign-off latencies, measured end to end with the real binary, real keys and the real queue file:
  - request latency: from the agent's destructive call to its request line landing in the queue;
  - release latency: from the second `airlock approve` returning to the agent's call returning;
  - supervisor RSS while a call is held (0.2 s after its request landed).
Prints medians over N rounds. Not a test: no pass/fail."""
import json, os, statistics, subprocess, sys, tempfile, time
from datetime import datetime, timezone
from approvers import make_approvers

airlock = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
root = tempfile.mkdtemp(prefix="airlock-bench-")
ws = os.path.join(root, "ws")
os.makedirs(ws)
keys, allowed = make_approvers(root)
queue = os.path.join(root, "state", "queue.jsonl")
common = ["--queue", queue, "--approvers", allowed]

request_ms, release_ms, rss_kib = [], [], []
for i in range(rounds):
    open(os.path.join(ws, ".env"), "w").write("A=1\n")
    agent = subprocess.Popen([airlock, "run", *common, "--", "python3", "-c",
                              "import os,time; t=time.time(); os.unlink('.env'); print(t, time.time(), flush=True)"],
                             cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    request = None
    while request is None:
        try:
            lines = [json.loads(l) for l in open(queue) if l.strip()]
            pending = [e for e in lines if e["event"] == "request" and not any(
                x["event"] == "resolve" and x["id"] == e["id"] for x in lines)]
            if pending:
                request = pending[-1]
        except FileNotFoundError:
            pass
        if request is None:
            time.sleep(0.0005)
    seen = time.time()
    time.sleep(0.2)  # RSS in the held steady state, not in the instant the request lands
    with open(f"/proc/{agent.pid}/status") as status:
        rss_kib += [int(l.split()[1]) for l in status if l.startswith("VmRSS:")]
    for name in ("alice", "bob"):
        subprocess.run([airlock, "approve", request["id"], "--key", f"{keys}/{name}", *common],
                       check=True, stdout=subprocess.DEVNULL)
    out, _ = agent.communicate(timeout=30)
    called, returned = map(float, out.split())
    lines = [json.loads(l) for l in open(queue) if l.strip()]
    approvals = [e for e in lines if e["event"] == "approve" and e["id"] == request["id"]]
    approved = datetime.strptime(approvals[-1]["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    ts = request["ts"]  # RFC 3339 with milliseconds, UTC
    written = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    request_ms.append((written - called) * 1000)
    release_ms.append((returned - approved) * 1000)

print(f"rounds: {rounds}")
print(f"call -> request line in the queue: median {statistics.median(request_ms):.1f} ms (max {max(request_ms):.1f})")
print(f"second approval line written -> agent's call returned: median {statistics.median(release_ms):.1f} ms (max {max(release_ms):.1f})")
print(f"airlock (supervisor) RSS while holding: median {statistics.median(rss_kib)/1024:.1f} MiB")
subprocess.run(["rm", "-rf", root])
