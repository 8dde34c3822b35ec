#!/usr/bin/env python3
"""Load test of the sign-off queue (issue 4): many sandboxes at once against one queue file, every
held request decided by two approvers running concurrently, then checked end to end.

  load.py --airlock BIN [--sandboxes 20] [--ops 50] [--threads 4] [--workers 2] [--timeout 900]

Each of the S sandboxes (`airlock run`, default profile) runs an agent that deletes O protected
files (`ops/J/.env`, matched by the profile's `**/.env` rule), T at a time; every delete is made by a
fresh child process, so no approval's grant covers the next one and each is its own held request:
S*O requests. Two approver processes (alice and bob, separate ed25519 keys) follow the queue file
and decide as they see requests land: request number N = sandbox*O + J is approved by both when N is
even; an odd N is denied by one of them (alice when N % 4 == 1, bob when N % 4 == 3). Each runs its
`airlock approve`/`airlock deny` commands W at a time.

Checked afterwards (any failure: exit 1, with the reason): every agent ended with status 0 and
reported every operation, 0 for the approved and EPERM for the denied ones; approved files are gone
and denied ones still there; the queue holds exactly the expected lines (S*O requests, one resolve
each with the right outcome, 2 distinct approvals per even and 1 deny per odd request, nothing
expired or cancelled), seq runs 1..L with no gap or duplicate, each prev is the SHA-256 of the line
before, `airlock queue verify` passes, `airlock queue list --json` shows every request resolved, and
every decision command that reported success has its line in the queue.

The run uses a private copy of the binary (a rebuild of the original mid-run would otherwise fail
commands) with $AIRLOCK_PROFILE_PATH set to this tree's profiles/, and gives the agents PATH=/usr/bin:/bin.

Reported: wall time, requests resolved per second, approve/deny command latency, request line ->
resolve line latency (queue timestamps), supervisor (airlock run) RSS. Python 3 standard library
only."""
import argparse, concurrent.futures, errno, hashlib, json, os, re, shutil, signal, statistics
import subprocess, sys, tempfile, threading, time
from approvers import make_approvers
from datetime import datetime, timezone

AGENT = r"""
import os, sys, threading, time, json
ops, threads = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
todo = list(range(ops))
results = {}
def worker():
    while True:
        with lock:
            if not todo:
                return
            j = todo.pop(0)
        t0 = time.time()
        pid = os.fork()
        if pid == 0:
            try:
                os.unlink(f"ops/{j}/.env")
                os._exit(0)
            except OSError as e:
                os._exit(e.errno if 0 < e.errno < 256 else 255)
            except BaseException:
                os._exit(254)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        with lock:
            results[j] = (rc, t0, time.time())
ts = [threading.Thread(target=worker) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
for j in sorted(results):
    rc, t0, t1 = results[j]
    print(json.dumps({"op": j, "rc": rc, "called": t0, "returned": t1}))
"""

PATH_RE = re.compile(r"/sb(\d+)/ops/(\d+)/\.env$")


def parse_ts(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def decision_for(n, name):
    """What approver `name` does with request number n: 'approve', 'deny' or None."""
    if n % 2 == 0:
        return "approve"
    if (n % 4 == 1) == (name == "alice"):
        return "deny"
    return None


# ---------------------------------------------------------------------------------------------
# Approver process: follow the queue file, decide what is ours, exit once every decision is made.

def approver(args):
    name, expected = args.approver, args.sandboxes * args.ops
    common = ["--queue", args.queue, "--approvers", args.allowed]
    mine = sum(1 for n in range(expected) if decision_for(n, name))
    done, failures, latencies, succeeded = 0, [], [], []
    offset, partial = 0, b""
    seen = set()
    lock = threading.Lock()

    def decide(rid, n, what):
        cmd = [args.airlock, what, rid, "--key", os.path.join(args.keys, name), *common]
        if what == "deny":
            cmd += ["--reason", f"load test: {n} is odd"]
        # A failed command is a finding (reported, and the run fails), but it is retried so that
        # the rest of the run still goes on and shows everything else.
        for attempt in range(10):
            t0 = time.monotonic()
            try:
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            except OSError as e:  # e.g. ETXTBSY: never silently lost in a future
                p = subprocess.CompletedProcess(cmd, -1, "", f"cannot run {cmd[0]}: {e}")
            dt = time.monotonic() - t0
            with lock:
                latencies.append((what, dt))
            if p.returncode == 0:
                with lock:
                    succeeded.append((rid, what))
                return None
            err = (f"{what} {rid} (#{n}) attempt {attempt + 1}: status {p.returncode}: "
                   f"{p.stderr.strip()} {p.stdout.strip()}").strip()
            print(time.strftime("%H:%M:%S ") + err, file=sys.stderr, flush=True)
            with lock:
                failures.append(err)
            if "not pending" in p.stderr:
                return err
            time.sleep(0.1 * (attempt + 1))
        return err

    deadline = time.monotonic() + args.timeout
    stop = threading.Event()  # SIGTERM: the orchestrator gives up (every agent has ended)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        futures = []
        while done < mine and time.monotonic() < deadline and not stop.is_set():
            try:
                with open(args.queue, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = b""
            offset += len(chunk)
            data = partial + chunk
            lines = data.split(b"\n")
            partial = lines.pop()
            for line in lines:
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                except ValueError:  # a torn line (the orchestrator's checks report it)
                    continue
                if e.get("event") != "request" or e["id"] in seen:
                    continue
                seen.add(e["id"])
                m = PATH_RE.search(e.get("path", ""))
                if not m:
                    continue
                n = int(m.group(1)) * args.ops + int(m.group(2))
                what = decision_for(n, name)
                if what:
                    futures.append(pool.submit(decide, e["id"], n, what))
                    done += 1
            if not chunk:
                time.sleep(0.005)
        concurrent.futures.wait(futures)
    failures += [f"decision raised {f.exception()!r}" for f in futures if f.exception()]
    print(json.dumps({"approver": name, "expected": mine, "submitted": done, "failures": failures,
                      "latencies": latencies, "succeeded": succeeded}))
    return 0


# ---------------------------------------------------------------------------------------------
# Orchestrator.

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--airlock", default=os.environ.get("AIRLOCK", "airlock"))
    ap.add_argument("--sandboxes", type=int, default=20)
    ap.add_argument("--ops", type=int, default=50, help="held operations per sandbox")
    ap.add_argument("--threads", type=int, default=4, help="operations in flight per sandbox")
    ap.add_argument("--workers", type=int, default=2, help="decision commands in flight per approver")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before giving up")
    ap.add_argument("--backend", help="airlock run --backend (default: the profile's, auto)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--quiet", action="store_true", help="one summary line on success")
    # Approver mode (internal).
    ap.add_argument("--approver", help=argparse.SUPPRESS)
    ap.add_argument("--queue", help=argparse.SUPPRESS)
    ap.add_argument("--allowed", help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.airlock = os.path.abspath(args.airlock) if os.sep in args.airlock else shutil.which(args.airlock)
    if not args.airlock or not os.access(args.airlock, os.X_OK):
        ap.error(f"no executable airlock at {args.airlock!r} (--airlock BIN)")
    if args.approver:
        return approver(args)
    return orchestrate(args)


def orchestrate(args):
    S, O = args.sandboxes, args.ops
    root = tempfile.mkdtemp(prefix="airlock-load-")
    # A private copy of the binary: a rebuild of the original during the run (the link step leaves it
    # missing or half-written for seconds) must not fail the approvers' commands. It finds the
    # profiles of the tree it came from through $AIRLOCK_PROFILE_PATH.
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy2(args.airlock, os.path.join(root, "bin", "airlock"))
    profiles = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "profiles")
    if os.path.isdir(profiles):
        os.environ["AIRLOCK_PROFILE_PATH"] = os.path.realpath(profiles)
    args.airlock = os.path.join(root, "bin", "airlock")
    keys, allowed = make_approvers(root)
    queue = os.path.join(root, "state", "queue.jsonl")
    os.makedirs(os.path.dirname(queue))
    common = ["--queue", queue, "--approvers", allowed]
    workspaces = []
    for k in range(S):
        ws = os.path.join(root, f"sb{k}")
        for j in range(O):
            os.makedirs(os.path.join(ws, "ops", str(j)))
            open(os.path.join(ws, "ops", str(j), ".env"), "w").write(f"{k}/{j}\n")
        workspaces.append(ws)

    me = os.path.abspath(__file__)
    approver_cmd = lambda name: [sys.executable, me, "--airlock", args.airlock, "--approver", name, "--queue", queue,
                                 "--allowed", allowed, "--keys", keys, "--sandboxes", str(S), "--ops", str(O),
                                 "--workers", str(args.workers), "--timeout", str(args.timeout)]
    t_start = time.time()
    try:
        return run(args, root, queue, allowed, keys, common, workspaces, approver_cmd, t_start)
    finally:
        for p in list(started):
            if p.poll() is None:
                p.kill()


started = []  # every process this run started, killed if it ends early


def run(args, root, queue, allowed, keys, common, workspaces, approver_cmd, t_start):
    S, O = args.sandboxes, args.ops
    total = S * O
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else os.path.realpath(sys.executable)
    problems = []
    rss = {}  # airlock pid -> max VmRSS (KiB)
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.is_set():
            for pid in list(rss):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                rss[pid] = max(rss[pid], int(line.split()[1]))
                except (FileNotFoundError, ProcessLookupError):
                    pass
            stop_sampling.wait(0.25)

    approvers = {name: subprocess.Popen(approver_cmd(name), stdout=subprocess.PIPE, text=True,
                                        stderr=open(os.path.join(root, f"approver-{name}.log"), "w"))
                 for name in ("alice", "bob")}
    started.extend(approvers.values())
    agents = []
    for k, ws in enumerate(workspaces):
        log = open(os.path.join(root, f"sb{k}.stderr"), "w")
        backend = ["--backend", args.backend] if args.backend else []
        p = subprocess.Popen([args.airlock, "run", *common, *backend, "--workspace", ws, "--", python, "-c", AGENT, str(O),
                              str(args.threads)], cwd=ws, stdout=subprocess.PIPE, stderr=log, text=True,
                             env={**os.environ, "PATH": "/usr/bin:/bin"})
        rss[p.pid] = 0
        agents.append(p)
        started.append(p)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    # Collect the agents' reports (each reads its own pipe: no agent blocks on a full one).
    outputs = [None] * S
    def collect(k, p):
        out, _ = p.communicate()
        outputs[k] = out
    readers = [threading.Thread(target=collect, args=(k, p), daemon=True) for k, p in enumerate(agents)]
    for r in readers:
        r.start()
    deadline = time.time() + args.timeout
    for r in readers:
        r.join(max(0, deadline - time.time()))
    t_agents = time.time()
    stuck = [k for k, r in enumerate(readers) if r.is_alive()]
    if stuck:
        problems.append(f"sandboxes still running after {args.timeout:.0f} s: {stuck}")
        diagnose(root, queue, agents, stuck, problems)
        for k in stuck:
            agents[k].kill()
        for r in readers:
            r.join(10)
    approver_reports = {}
    # Every agent has ended: an approver still waiting for requests will see no more of them.
    grace = time.time() + 20
    while time.time() < grace and any(p.poll() is None for p in approvers.values()):
        time.sleep(0.05)
    for p in approvers.values():
        if p.poll() is None:
            p.terminate()
    for name, p in approvers.items():
        try:
            out, _ = p.communicate(timeout=60)
            approver_reports[name] = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
            if p.returncode != 0:
                problems.append(f"approver {name} exited with {p.returncode}")
        except subprocess.TimeoutExpired:
            p.kill()
            problems.append(f"approver {name} did not finish")
    stop_sampling.set()
    sampler.join()

    # ---- Agents' view.
    expected_rc = lambda n: 0 if n % 2 == 0 else errno.EPERM
    agent_ms = []
    for k, p in enumerate(agents):
        if p.returncode != 0:
            tail = open(os.path.join(root, f"sb{k}.stderr")).read()[-600:]
            problems.append(f"sandbox {k}: airlock run exited with {p.returncode}; stderr tail: {tail!r}")
        seen = {}
        for line in (outputs[k] or "").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                problems.append(f"sandbox {k}: unexpected output {line!r}")
                continue
            seen[r["op"]] = r
        missing = [j for j in range(O) if j not in seen]
        if missing:
            problems.append(f"sandbox {k}: no result for operations {missing[:10]}{'...' if len(missing) > 10 else ''}")
        for j, r in seen.items():
            n = k * O + j
            if r["rc"] != expected_rc(n):
                problems.append(f"sandbox {k} op {j} (#{n}): agent's unlink returned {r['rc']}, expected {expected_rc(n)}")
            agent_ms.append((r["returned"] - r["called"]) * 1000)
        for j in range(O):
            n = k * O + j
            exists = os.path.exists(os.path.join(workspaces[k], "ops", str(j), ".env"))
            if exists != (n % 2 == 1):
                problems.append(f"sandbox {k} op {j} (#{n}): file {'still there' if exists else 'gone'} "
                                f"although {'approved' if n % 2 == 0 else 'denied'}")

    # ---- The queue file, checked independently of airlock's reader.
    raw = open(queue, "rb").read() if os.path.exists(queue) else b""
    lines = raw.split(b"\n")
    if lines and lines[-1] != b"":
        problems.append(f"queue: last line has no newline ({len(lines[-1])} bytes)")
    lines = [l for l in lines[:-1]]
    events = []
    prev_hash = "0" * 64
    seqs = set()
    for i, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
        except ValueError:
            problems.append(f"queue line {i}: not JSON: {line[:120]!r}")
            prev_hash = hashlib.sha256(line + b"\n").hexdigest()
            continue
        if e.get("seq") != i:
            problems.append(f"queue line {i}: seq {e.get('seq')}")
        if e.get("seq") in seqs:
            problems.append(f"queue line {i}: duplicate seq {e.get('seq')}")
        seqs.add(e.get("seq"))
        if e.get("prev") != prev_hash:
            problems.append(f"queue line {i}: prev is not the SHA-256 of line {i - 1}")
        if "torn" in e:
            problems.append(f"queue line {i}: follows torn lines")
        prev_hash = hashlib.sha256(line + b"\n").hexdigest()
        events.append(e)
    by_event = {}
    for e in events:
        by_event.setdefault(e["event"], []).append(e)
    requests = {}
    number = {}
    for e in by_event.get("request", []):
        m = PATH_RE.search(e.get("path", ""))
        if not m:
            problems.append(f"request {e['id']}: unexpected path {e.get('path')!r}")
            continue
        n = int(m.group(1)) * O + int(m.group(2))
        if n in number.values():
            problems.append(f"request {e['id']}: a second request for #{n}")
        if e["id"] in requests:
            problems.append(f"request id {e['id']} appears twice")
        requests[e["id"]] = e
        number[e["id"]] = n
    if len(set(number.values())) != total:
        problems.append(f"queue: {len(set(number.values()))} distinct operations requested, expected {total}")
    resolves, approvals, denials = {}, {}, {}
    for e in by_event.get("resolve", []):
        resolves.setdefault(e["id"], []).append(e)
    for e in by_event.get("approve", []):
        approvals.setdefault(e["id"], []).append(e)
    for e in by_event.get("deny", []):
        denials.setdefault(e["id"], []).append(e)
    for kind in ("expire", "cancel", "audit"):
        if by_event.get(kind):
            problems.append(f"queue: {len(by_event[kind])} {kind} events, expected none "
                            f"(first: {json.dumps(by_event[kind][0])[:200]})")
    unknown = set(by_event) - {"request", "approve", "deny", "resolve", "expire", "cancel", "audit"}
    if unknown:
        problems.append(f"queue: unknown events {unknown}")
    latency_ms = []
    for rid, n in number.items():
        rs = resolves.get(rid, [])
        if len(rs) != 1:
            problems.append(f"request {rid} (#{n}): {len(rs)} resolve lines, expected 1")
            continue
        want = "allowed" if n % 2 == 0 else "denied"
        if rs[0].get("outcome") != want:
            problems.append(f"request {rid} (#{n}): resolved {rs[0].get('outcome')}, expected {want}")
        signers = [a["signer"] for a in approvals.get(rid, [])]
        if n % 2 == 0 and (len(signers) != 2 or len(set(signers)) != 2):
            problems.append(f"request {rid} (#{n}): approvals by {signers}, expected two distinct")
        if n % 2 == 1 and (len(denials.get(rid, [])) != 1 or approvals.get(rid)):
            problems.append(f"request {rid} (#{n}): {len(denials.get(rid, []))} denials and {len(signers)} approvals, expected 1 and 0")
        latency_ms.append((parse_ts(rs[0]["ts"]) - parse_ts(requests[rid]["ts"])) * 1000)
    stray = set(resolves) - set(requests)
    if stray:
        problems.append(f"queue: resolves for unknown requests {sorted(stray)[:5]}")
    n_even = (total + 1) // 2
    expected_lines = total + 2 * n_even + (total - n_even) + total
    if len(lines) != expected_lines:
        problems.append(f"queue: {len(lines)} lines, expected {expected_lines}")

    verify = subprocess.run([args.airlock, "queue", "verify", *common], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if verify.returncode != 0:
        problems.append(f"airlock queue verify: status {verify.returncode}: {verify.stdout.strip()[:500]}")
    listed = subprocess.run([args.airlock, "queue", "list", "--json", *common], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rows = json.loads(listed.stdout)
        states = {}
        for r in rows:
            states[r["state"]] = states.get(r["state"], 0) + 1
        if states != {"resolved": total}:
            problems.append(f"airlock queue list: states {states}, expected {{'resolved': {total}}}")
    except ValueError:
        problems.append(f"airlock queue list --json: status {listed.returncode}: {listed.stderr.strip()[:300]}")

    # ---- Approvers.
    approve_s, deny_s = [], []
    for name, rep in approver_reports.items():
        if rep is None:
            problems.append(f"approver {name}: no report")
            continue
        if rep["submitted"] != rep["expected"]:
            problems.append(f"approver {name}: saw {rep['submitted']} of its {rep['expected']} requests")
        for f in rep["failures"]:
            problems.append(f"approver {name}: {f}")
        # Every decision a command reported as written is in the queue, by this approver's key.
        fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", os.path.join(keys, f"{name}.pub")],
                                     stdout=subprocess.PIPE, text=True).stdout.split()[1]
        lines_by = {(e["id"], e["event"], e.get("signer")) for e in events if e["event"] in ("approve", "deny")}
        for rid, what in rep["succeeded"]:
            if (rid, what, fingerprint) not in lines_by:
                problems.append(f"approver {name}: `airlock {what} {rid}` succeeded but its line is not in the queue (lost)")
        approve_s += [dt for what, dt in rep["latencies"] if what == "approve"]
        deny_s += [dt for what, dt in rep["latencies"] if what == "deny"]

    # ---- Report.
    first_request = min((parse_ts(e["ts"]) for e in by_event.get("request", [])), default=t_start)
    last_resolve = max((parse_ts(e["ts"]) for e in by_event.get("resolve", [])), default=t_agents)
    resolved = sum(1 for rid in number if len(resolves.get(rid, [])) == 1)
    rss_mib = [v / 1024 for v in rss.values() if v]
    if args.quiet and not problems:
        print(f"load: {S} sandboxes x {O} held operations, {resolved} resolved once each, chain verified, "
              f"{len(lines)} lines, {t_agents - t_start:.1f} s")
    else:
        print(f"sandboxes: {S}, held operations each: {O} ({args.threads} in flight per sandbox), requests: {total}, "
              f"approvers: 2 ({args.workers} commands in flight each)")
        print(f"queue: {len(lines)} lines ({len(by_event.get('request', []))} request, {len(by_event.get('approve', []))} approve, "
              f"{len(by_event.get('deny', []))} deny, {len(by_event.get('resolve', []))} resolve), "
              f"{len(raw) / 1e6:.2f} MB; airlock queue verify: {'ok' if verify.returncode == 0 else 'FAILED'}")
        print(f"wall time, first sandbox started -> last agent ended: {t_agents - t_start:.1f} s")
        span = last_resolve - first_request
        print(f"first request line -> last resolve line: {span:.1f} s = {resolved / span if span > 0 else float('nan'):.1f} requests resolved/s")
        for label, xs in (("airlock approve", approve_s), ("airlock deny", deny_s)):
            if xs:
                print(f"{label} command: p50 {pct(xs, 50) * 1000:.0f} ms, p99 {pct(xs, 99) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms (n={len(xs)})")
        print(f"request line -> resolve line: p50 {pct(latency_ms, 50):.0f} ms, p99 {pct(latency_ms, 99):.0f} ms, max {max(latency_ms, default=float('nan')):.0f} ms")
        print(f"agent's unlink (fork + held call + answer): p50 {pct(agent_ms, 50):.0f} ms, p99 {pct(agent_ms, 99):.0f} ms")
        if rss_mib:
            print(f"airlock run (supervisor) peak RSS: median {statistics.median(rss_mib):.1f} MiB, max {max(rss_mib):.1f} MiB")
    if problems:
        open(os.path.join(root, "problems.txt"), "w").write("\n".join(problems) + "\n")
        print(f"\nFAILED: {len(problems)} problem(s), all in {root}/problems.txt; the first of each kind:", file=sys.stderr)
        shown = {}
        for p in problems:
            kind = re.sub(r"\d+|'[^']*'|[a-z0-9]{6} ", "#", p)[:40]
            shown[kind] = shown.get(kind, 0) + 1
            if shown[kind] <= 3:
                print("  " + p[:1500], file=sys.stderr)
        return 1
    if args.keep:
        print(f"scratch kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def diagnose(root, queue, agents, stuck, problems):
    """What a stuck run looks like: pending requests, and where each stuck process waits."""
    try:
        events = [json.loads(l) for l in open(queue, "rb") if l.strip()]
        resolved = {e["id"] for e in events if e["event"] == "resolve"}
        pending = [e for e in events if e["event"] == "request" and e["id"] not in resolved]
        problems.append(f"{len(pending)} requests without a resolve line, e.g. "
                        + "; ".join(f"{e['id']} {e.get('path')} seq {e['seq']}" for e in pending[:5]))
    except Exception as ex:  # diagnostics only
        problems.append(f"reading the queue for diagnostics: {ex}")
    for k in stuck[:5]:
        pid = agents[k].pid
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
            waits = {t: open(f"/proc/{pid}/task/{t}/wchan").read() for t in tasks}
            kids = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], stdout=subprocess.PIPE, text=True).stdout.split()
            problems.append(f"sandbox {k}: airlock pid {pid} threads {waits}; children {kids}; "
                            f"stderr: {open(os.path.join(root, f'sb{k}.stderr')).read()[-400:]!r}")
        except OSError as ex:
            problems.append(f"sandbox {k}: {ex}")


if __name__ == "__main__":
    sys.exit(main())
