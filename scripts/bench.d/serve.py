#!/usr/bin/env python3
"""Benchmark of the sign-off service, `airlock serve` (issue 13, Performance), with the real binary,
a real PostgreSQL, real sandboxes and real SSH keys. It reports; with --check (as scripts/test
runs its holds stage) it also fails when the holds stage finds any problem.

  serve.py [--airlock BIN] [--pending 10000] [--checkpoints 1000,5000] [--list-rounds 20]
           [--rounds 15] [--sandboxes 10] [--holds 5] [--approve-workers 1]
           [--restart-postgres [--outage 3]] [--check]
           [--stages list,release,page,holds] [--keep] [--label TEXT]

Run as root (PostgreSQL runs as the postgres user; the sandboxes use the namespaces backend).

Set-up: a PostgreSQL cluster of its own in a scratch directory under /var/tmp (initdb as the
`postgres` user, fsync off, its UNIX socket in the scratch directory, TCP on 127.0.0.1 and a free
port), as the tests' harness makes one (Tests/AirlockSandboxTests/Harness/PostgresServer.swift).
Each stage gets a fresh database and its own `airlock serve --listen 127.0.0.1:0`, with one host
(`laptop`, owned by carol) and two approvers (alice, bob) whose ed25519 keys are in an
allowed_signers file (namespaces="airlock"). So the 10,000 pending requests of the first stage do
not weigh on the latency and throughput of the others.

Stages:
  list     N request events (default 10,000) appended through POST /v1/events with the host's
           token, several threads at once (appends/s); at each checkpoint (1,000, 5,000 and N)
           the pending list GET /v1/requests?state=pending (bearer alice), the page GET /
           (alice's session cookie) and, to show where the time goes, GET /v1/export (the same
           read of the whole chain without the fold) and the database's own time for that read
           (EXPLAIN ANALYZE), each timed over several rounds (p50/p90/max, response size); and
           `airlock queue verify` of the exported chain (the same parse and fold, in the client).
           At N also GET /v1/requests?state=resolved, which matches nothing (its cost is the fold
           of the whole chain, not the answer), and `airlock approve` of one of the N pending
           requests (it reads and folds the whole chain twice). Target: the pending list of
           10,000 in <= 200 ms.
  release  R rounds (default 15, plus one unmeasured warm-up) of one sandbox (`airlock run
           --backend namespaces --queue URL --protect W/data`) whose agent deletes W/data/fI:
           once the request is pending on the service, alice approves and then bob (each with
           `airlock approve ID --queue URL --token-file F --key K`). Measured:
             - the second approval's line written (its `ts` in the chain, stamped by the service
               in the append transaction, this machine's clock, 1 ms resolution) -> the agent's
               rm returns;
             - bob's `airlock approve` returns -> the agent's rm returns (the command reads the
               whole chain back after its POST, so the sandbox may already be running: this can
               be negative);
             - the agent's call (stamped just before `rm`, so its fork and exec are included) ->
               its request line's `ts` on the service;
             - the time of each `airlock approve` command (it runs ssh-keygen -Y sign, and reads
               the chain twice over HTTP).
           The agent is bash, which stamps the time with $EPOCHREALTIME, a builtin: no process is
           started between the rm returning and the stamp (less noise than `date` or than
           watching for the file to vanish from outside). Target (issue): p50 <= 100 ms from the
           approval in the page to the call returning; the page's POST returns once the line is
           committed, so the first measure above is the comparable one.
  page     R rounds (plus a warm-up) as in release, but the deciding approval is bob's click on
           Approve in the page: Debian's Chromium under Playwright (the $AIRLOCK_VENV python,
           which scripts/bench uses when there is one), his passkey a virtual authenticator,
           enrolled as a team would (the page prints its line, `airlock serve propose-approvers`
           proposes the list with it, alice and bob approve the change with their SSH keys);
           measured from the click to the agent's rm returning, and to the page saying so.
  holds    S sandboxes (default 10) at once, each deleting H protected files in sequence (default
           5, each rm its own held request), while two approver threads (alice, bob) poll the
           pending list and approve whatever they have not approved yet, one `airlock approve`
           at a time each (--approve-workers N: N at a time), until every agent has ended. With
           --page-approver bob approves in the page instead, one click after the other, his
           passkey enrolled as in the page stage before the sandboxes start.
           Reported: requests held, wall time, holds/s, the CPU airlock serve used and how busy
           the machine was (on a small machine the approvers' commands are what limits holds/s);
           then `airlock queue export` + `airlock queue verify` check the chain, and every
           request must have exactly one resolve line (allowed) and two approvals by distinct
           signers, every agent exit 0 and every file be gone. With --restart-postgres,
           PostgreSQL is stopped once a third of the work's lines are in the chain and started
           again --outage seconds later; the agents try a refused delete again (as an agent
           would), approvers' calls refused meanwhile are counted and tried again, and every
           check above must still hold.

Everything started (the service, PostgreSQL, sandboxes) is stopped and the scratch directory
removed at the end, on failure and on Ctrl-C (--keep keeps the scratch directory). A private copy of
the binary is used (a rebuild of the original mid-run would otherwise fail commands). Python 3
standard library only, but for Playwright in the page stage and with --page-approver."""
import argparse, http.client, json, os, re, shutil, signal, socket, statistics, subprocess, sys
import tempfile, threading, time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.realpath(os.path.join(HERE, "..", ".."))
PROFILES = os.path.join(ROOT, "profiles")

# ---------------------------------------------------------------------------------------------
# Small helpers.


from load import pct  # the p-th percentile, interpolated, as the load test reports it


def ms(seconds_list):
    return [x * 1000 for x in seconds_list]


def summary(values_ms):
    """'p50 X, p90 Y, max Z ms' of a list of milliseconds."""
    if not values_ms:
        return "no samples"
    return f"p50 {pct(values_ms, 50):.1f}, p90 {pct(values_ms, 90):.1f}, max {max(values_ms):.1f} ms"


def parse_ts(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU time a process has used so far (/proc/PID/stat), in seconds."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine_busy():
    """(busy, total) jiffies of all CPUs so far (/proc/stat): the share busy between two readings."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def log(message):
    print(time.strftime("%H:%M:%S ") + message, file=sys.stderr, flush=True)


class BenchError(Exception):
    """Something the benchmark relies on failed: reported, and its stage ends (the others run)."""


# Every process this run started, stopped at the end whatever happens. Each is started in a
# session of its own, so that a Ctrl-C in the terminal reaches only this script, which then stops
# them in order.
started = []


def spawn(argv, **kw):
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    started.append(p)
    return p


def stop(processes, timeout=15):
    """SIGTERM to each, then SIGKILL to those not ended within `timeout` (airlock run gives its
    command 10 s to end after a SIGTERM before it kills the sandbox)."""
    running = [p for p in processes if p.poll() is None]
    for p in running:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for p in running:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


# Set once the run is being stopped (Ctrl-C, a failure): loops in other threads end at once.
stopping = threading.Event()


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a throwaway cluster, run as the postgres user (the server refuses root).


class Postgres:
    def __init__(self, root):
        versions = [int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit()] if os.path.isdir("/usr/lib/postgresql") else []
        if not versions:
            raise BenchError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin): apt-get install postgresql")
        self.bin = f"/usr/lib/postgresql/{max(versions)}/bin"
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.running = False
        self.as_postgres([f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "airlock", "--auth=trust", "-E", "UTF8", "--no-sync"])
        # fsync off (as the tests run it): the benchmark measures airlock, not this machine's disk.
        self.start()

    def start(self):
        self.as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-l", f"{self.dir}/log", "-o",
                          f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                          "start"])
        self.running = True

    def as_postgres(self, argv):
        p = subprocess.run(["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--", *argv],
                           cwd=self.dir, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if p.returncode != 0:
            tail = open(f"{self.dir}/log").read()[-1500:] if os.path.exists(f"{self.dir}/log") else ""
            raise BenchError(f"{' '.join(argv[:2])}: status {p.returncode}: {p.stdout.strip()[-1500:]}\n{tail}")

    def psql(self, database, sql):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "airlock", "-d", database, "-c", sql],
                           env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise BenchError(f"psql {sql!r}: {p.stderr.strip()}")
        return p.stdout

    def database(self, name):
        """A new empty database; its URL for airlock serve --database."""
        self.psql("postgres", f"CREATE DATABASE {name}")
        return f"postgres://airlock@127.0.0.1:{self.port}/{name}"

    def restart(self, down):
        """Stops PostgreSQL (fast: open transactions are rolled back, connections cut), leaves it
        down for `down` seconds, and starts it again."""
        self.as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-m", "fast", "stop"])
        time.sleep(down)
        self.start()

    def stop(self):
        if self.running:
            self.running = False
            try:
                self.as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-m", "immediate", "stop"])
            except (BenchError, subprocess.TimeoutExpired) as e:
                log(f"stopping PostgreSQL: {e}")


# ---------------------------------------------------------------------------------------------
# The service: one airlock serve per stage, on a database of its own.


class Service:
    def __init__(self, bench, name):
        self.bench = bench
        self.db_name = name
        self.database = bench.pg.database(name)
        self.dir = os.path.join(bench.root, name)
        os.makedirs(self.dir)
        self.tokens, self.token_files = {}, {}
        for who, kind in (("laptop", "add-host"), ("alice", "add-approver"), ("bob", "add-approver")):
            argv = [bench.airlock, "serve", kind, who, "--database", self.database] + (["--owner", "carol"] if kind == "add-host" else [])
            p = subprocess.run(argv, env=bench.env, cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
            token = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
            if p.returncode != 0 or not token.startswith("airlock_"):
                raise BenchError(f"airlock serve {kind} {who}: status {p.returncode}: {p.stderr.strip()} {p.stdout.strip()}")
            self.tokens[who] = token
            self.token_files[who] = os.path.join(self.dir, f"{who}.token")
            with open(self.token_files[who], "w") as f:
                f.write(token + "\n")
            os.chmod(self.token_files[who], 0o600)
        self.stderr = open(os.path.join(self.dir, "serve.stderr"), "w")
        self.process = spawn([bench.airlock, "serve", "--database", self.database, "--listen", "127.0.0.1:0",
                              "--approvers", bench.allowed], env=bench.env, cwd=self.dir,
                             stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        # Its first line says where it listens; the rest of its stdout goes to a file (read by a
        # thread, so that it never blocks on a full pipe).
        line = self.process.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            stop([self.process])
            raise BenchError(f"airlock serve did not start: {line!r} {open(self.stderr.name).read()[-1500:]}")
        self.url, self.port = m.group(1) + "/", int(m.group(2))
        out = open(os.path.join(self.dir, "serve.stdout"), "w")
        threading.Thread(target=lambda: shutil.copyfileobj(self.process.stdout, out), daemon=True).start()

    stopping = None  # when SIGTERM was sent (time.monotonic())

    def terminate(self):
        if self.process.poll() is None and self.stopping is None:
            self.stopping = time.monotonic()
            self.process.send_signal(signal.SIGTERM)

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def get(self, conn, path, who="alice", cookie=False):
        """GET path as `who` (bearer token, or the page's session cookie); (status, body bytes)."""
        headers = {"Cookie": f"airlock_session={self.tokens[who]}"} if cookie else {"Authorization": f"Bearer {self.tokens[who]}"}
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()

    def pending(self, conn, who="alice"):
        status, body = self.get(conn, "/v1/requests?state=pending", who)
        if status != 200:
            raise BenchError(f"GET /v1/requests?state=pending as {who}: {status} {body[:300]!r}")
        return json.loads(body)

    def cli(self, args, who="alice"):
        """`airlock ARGS --queue URL --token-file (who's) --approvers FILE`; (process, seconds)."""
        t0 = time.monotonic()
        p = subprocess.run([self.bench.airlock, *args, "--queue", self.url, "--token-file", self.token_files[who],
                            "--approvers", self.bench.allowed], env=self.bench.env, cwd=self.dir,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        return p, time.monotonic() - t0

    def approve(self, rid, who):
        return self.cli(["approve", rid, "--key", os.path.join(self.bench.keys, who)], who)

    def export(self):
        """The chain (`airlock queue export`), written to a file and checked offline with `airlock
        queue verify`; (events, verify's process)."""
        p, _ = self.cli(["queue", "export"])
        if p.returncode != 0:
            raise BenchError(f"airlock queue export: status {p.returncode}: {p.stderr.strip()}")
        path = os.path.join(self.dir, "exported.jsonl")
        with open(path, "w") as f:
            f.write(p.stdout)
        verified = subprocess.run([self.bench.airlock, "queue", "verify", "--queue", path, "--approvers", self.bench.allowed],
                                  env=self.bench.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()], verified, path

    def close(self, grace):
        """Stops the service (SIGTERM; SIGKILL after `grace` seconds); notes a slow exit."""
        if self.process.poll() is None:
            if self.stopping is None:
                self.terminate()
            try:
                self.process.wait(max(0.1, self.stopping + grace - time.monotonic()))
                took = time.monotonic() - self.stopping
                if took > 2:
                    self.bench.findings.append(f"{self.db_name}: airlock serve took {took:.1f} s to exit after SIGTERM")
            except subprocess.TimeoutExpired:
                self.bench.findings.append(f"{self.db_name}: airlock serve had not exited {grace:.0f} s after SIGTERM: killed")
                self.process.kill()
                self.process.wait(5)
        self.stderr.close()
        errors = [l for l in open(self.stderr.name) if re.search(r"error|critical|warning", l, re.I)]
        if errors:
            self.bench.findings.append(f"{self.db_name}: airlock serve's stderr has {len(errors)} error/warning line(s), e.g. {errors[0].strip()[:300]}")


def request_event(path, expires):
    """A request event as a sandbox host sends it (the shape ServiceTests.requestEvent sends)."""
    return json.dumps({"event": "request", "kind": "delete", "path": path, "cwd": "/srv", "exe": "/usr/bin/rm (dev 1 ino 2)",
                       "expires": rfc3339(expires), "pid": 4242, "quorum": 2, "requester": "whoever",
                       "rule": "protected", "sandbox": "0badcafe"}, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# The benchmark.


class PageApprover:
    """An approver deciding in the page: Debian's Chromium under Playwright, signed in with the
    approver's token, a passkey (a virtual authenticator) enrolled as a team would enrol it: the
    page prints its allowed_signers line, `airlock serve propose-approvers` proposes the list with
    it, alice and bob approve that change with their SSH keys. Playwright's sync API is bound to
    the thread that starts it: make, use and close one in the same thread."""

    def __init__(self, bench, s, who):
        try:
            sys.path.insert(0, os.path.join(ROOT, "Tests", "Browser"))
            from playwright.sync_api import sync_playwright
            import browser
        except ImportError as e:
            raise BenchError(f"approving in the page needs Playwright (in $AIRLOCK_VENV, which scripts/test makes): {e}")
        self.base = s.url.rstrip("/").replace("127.0.0.1", "localhost")  # WebAuthn takes a host name
        self.playwright = sync_playwright().start()
        self.chromium = browser.launch(self.playwright)
        page = self.page = self.chromium.new_context().new_page()
        page.goto(self.base + "/")
        page.fill("#token", s.tokens[who])
        page.click("#signin")
        page.wait_for_selector("#principal")
        page.goto(self.base + "/passkeys")
        browser.add_authenticator(page)
        page.click("#enrol")
        page.wait_for_selector("#result.ok, #result.error")
        line = page.inner_text("#allowed-signers").strip()
        if not line.startswith(who + " "):
            raise BenchError(f"the page registered no passkey for {who}: {page.inner_text('#result')!r}")
        key = os.path.join(s.dir, f"{who}-passkey.pub")
        with open(key, "w") as f:
            f.write(" ".join(line.split()[2:]) + "\n")
        self.fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", key], stdout=subprocess.PIPE, text=True, check=True).stdout.split()[1]
        proposed = os.path.join(s.dir, f"with-{who}-passkey")
        with open(proposed, "w") as f:
            f.write(open(bench.allowed).read() + line + "\n")
        p = subprocess.run([bench.airlock, "serve", "propose-approvers", proposed, "--database", s.database,
                            "--approvers", bench.allowed, "--as", "admin"], env=bench.env, cwd=s.dir,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if p.returncode != 0:
            raise BenchError(f"propose-approvers: {p.stderr.strip()}")
        change = p.stdout.split()[3].rstrip(",")
        for by in ("alice", "bob"):
            q, _ = s.approve(change, by)
            if q.returncode != 0:
                raise BenchError(f"{by}'s approval of the change {change}: {q.stderr.strip()}")

    def approve(self, rid):
        """Clicks Approve on request `rid`'s page; (whether the page said Approved, what it said,
        when the click was, when the page answered). A page that does not load (the service's
        database away: a 503) or does not answer is said, not raised."""
        from playwright.sync_api import Error as PlaywrightError
        t_click = t_said = time.time()
        try:
            response = self.page.goto(f"{self.base}/r/{rid}")
            if response is None or response.status != 200:
                return False, f"the page of {rid} answered {response.status if response else 'nothing'}: {self.page.inner_text('body')[:200]}", t_click, t_said
            if self.page.locator("#approve").count() == 0:  # no longer pending
                return False, "not pending: " + self.page.inner_text("#state"), t_click, t_said
            t_click = time.time()
            self.page.click("#approve")
            self.page.wait_for_selector("#result.ok, #result.error")
            t_said = time.time()
            result = self.page.inner_text("#result")
            return result.startswith("Approved"), result, t_click, t_said
        except PlaywrightError as e:
            return False, f"the page of {rid}: {str(e).splitlines()[0]}", t_click, time.time()

    def close(self):
        self.chromium.close()
        self.playwright.stop()


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []        # (stage, measure, value, target) for the final table
        self.findings = []    # what looked wrong
        self.notes = []       # what else the reader should know (the machine's load)
        self.services = []
        self.pg = None
        self.root = tempfile.mkdtemp(prefix="airlock-bench-serve-", dir="/var/tmp")
        os.chmod(self.root, 0o755)  # the postgres user reaches its cluster below

    def set_up(self):
        """The binary's copy, a HOME, the approvers' keys; then PostgreSQL."""
        args = self.args
        os.makedirs(os.path.join(self.root, "bin"))
        self.airlock = os.path.join(self.root, "bin", "airlock")
        shutil.copy2(args.airlock, self.airlock)
        home = os.path.join(self.root, "home")
        os.makedirs(home)
        # Nothing of the operator's: a HOME of its own, this tree's profiles, no queue of the machine's.
        self.env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "AIRLOCK_PROFILE_PATH": PROFILES}
        self.keys = os.path.join(self.root, "keys")
        os.makedirs(self.keys)
        lines = []
        for name in ("alice", "bob"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", f"{self.keys}/{name}"], check=True)
            kind, b64 = open(f"{self.keys}/{name}.pub").read().split()[:2]
            lines.append(f'{name} namespaces="airlock" {kind} {b64}')
        self.allowed = os.path.join(self.root, "allowed_signers")
        with open(self.allowed, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.fingerprint = {name: subprocess.run(["ssh-keygen", "-l", "-f", f"{self.keys}/{name}.pub"], stdout=subprocess.PIPE,
                                                 text=True, check=True).stdout.split()[1] for name in ("alice", "bob")}
        self.pg = Postgres(self.root)
        log(f"PostgreSQL on 127.0.0.1:{self.pg.port}, scratch {self.root}")

    def row(self, stage, measure, value, target=""):
        self.rows.append((stage, measure, value, target))
        log(f"{stage}: {measure}: {value}")

    def service(self, name):
        s = Service(self, name)
        self.services.append(s)
        log(f"{name}: airlock serve at {s.url}, database {s.database}")
        return s

    def close(self, interrupted=False):
        # The services first, all at once: each may wait for the long polls of sandboxes that are
        # gone (see the findings); then anything else still running.
        stopping.set()
        for s in self.services:
            s.terminate()
        stop([p for p in started if not any(p is s.process for s in self.services)])
        for s in self.services:
            try:
                s.close(grace=5 if interrupted else 40)
            except Exception as e:  # cleanup goes on
                log(f"closing {s.db_name}: {e}")
        if self.pg:
            self.pg.stop()
        if self.args.keep:
            log(f"scratch kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- Stage 1: many pending requests, listed.

    def stage_list(self):
        a = self.args
        s = self.service("bench_list")
        checkpoints = sorted({c for c in a.checkpoints if 0 < c < a.pending} | {a.pending})
        expires = time.time() + 86400  # a day: every request stays pending
        appended, append_s = 0, 0.0
        failures = []
        appends_row = len(self.rows)  # the appends' row goes first, filled in at the end
        segments = []  # appends/s between checkpoints: does appending slow down as the chain grows?
        for c in checkpoints:
            # Append requests appended+1 .. c, a.append_threads at once, each on its own keep-alive connection.
            todo = iter(range(appended, c))
            lock = threading.Lock()

            def appender():
                conn = s.connection()
                while True:
                    with lock:
                        i = next(todo, None)
                    if i is None:
                        return
                    conn.request("POST", "/v1/events", body=request_event(f"/srv/bench/{i}", expires),
                                 headers={"Authorization": f"Bearer {s.tokens['laptop']}", "Content-Type": "application/json"})
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200:
                        with lock:
                            failures.append(f"POST /v1/events #{i}: {r.status} {body[:200]!r}")
            t0 = time.monotonic()
            threads = [threading.Thread(target=appender, daemon=True) for _ in range(a.append_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            append_s += time.monotonic() - t0
            if failures:
                raise BenchError(f"{len(failures)} appends failed, e.g. {failures[0]}")
            segments.append(f"{appended}-{c}: {(c - appended) / (time.monotonic() - t0):.0f}/s")
            appended = c
            log(f"list: {appended} requests appended ({appended / append_s:.0f}/s so far)")
            self.measure_list(s, c, a.list_rounds if c == a.pending else a.checkpoint_rounds, final=(c == a.pending))
        self.row("list", f"appends, POST /v1/events ({a.append_threads} threads, keep-alive)",
                 f"{appended} in {append_s:.1f} s = {appended / append_s:.0f}/s ({', '.join(segments)})")
        self.rows.insert(appends_row, self.rows.pop())

    def measure_list(self, s, n, rounds, final):
        conn = s.connection()
        timings = {}
        sizes = {}
        gets = [("GET /v1/requests?state=pending", "/v1/requests?state=pending", False),
                ("GET / (the page)", "/", True),
                ("GET /v1/export (the read alone)", "/v1/export", False)]
        if final:
            # Nothing matches: the cost is the fold of the whole chain, not the size of the answer.
            gets.append(("GET /v1/requests?state=resolved (none match)", "/v1/requests?state=resolved", False))
        for what, path, cookie in gets:
            if "none match" in what:
                rounds = min(rounds, 5)
            xs = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                status, body = s.get(conn, path, cookie=cookie)
                xs.append(time.perf_counter() - t0)
                if status != 200:
                    raise BenchError(f"{what} at {n}: {status} {body[:300]!r}")
            timings[what], sizes[what] = ms(xs), len(body)
            # Check that what was timed is what it should be: n pending requests.
            want = n if path.endswith("=pending") else 0
            if path.startswith("/v1/requests") and len(json.loads(body)) != want:
                self.findings.append(f"{what} at {n}: {len(json.loads(body))} listed, expected {want}")
            if path == "/" and f"Pending requests ({n})".encode() not in body:
                self.findings.append(f"GET / at {n}: the page does not say 'Pending requests ({n})': {body[:200]!r}")
        # The database's own time for the read every one of those makes (EXPLAIN ANALYZE: executed
        # in the server, nothing sent).
        db_ms = []
        for _ in range(3):
            plan = s.bench.pg.psql(s.db_name, f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT line FROM airlock_events WHERE seq > 0 ORDER BY seq LIMIT {n}")
            db_ms.append(json.loads(plan)[0]["Execution Time"])
        chain_bytes = int(s.bench.pg.psql(s.db_name, "SELECT sum(length(line)) FROM airlock_events").strip())
        target = lambda w: "<= 200 ms (10,000 pending)" if final and w == "GET /v1/requests?state=pending" else ""
        for what, xs in timings.items():
            self.row("list", f"{what}, {n} pending ({len(xs)} rounds)", f"{summary(xs)}; {sizes[what] / 1e6:.2f} MB", target(what))
        self.row("list", f"PostgreSQL's execution of that read, {n} rows", f"median {statistics.median(db_ms):.1f} ms ({chain_bytes / 1e6:.2f} MB of lines)")
        # The client side of the same fold: `airlock queue verify` of the exported chain (reads,
        # checks the chain, folds; process start included).
        path = os.path.join(s.dir, f"export-{n}.jsonl")
        conn.request("GET", "/v1/export", headers={"Authorization": f"Bearer {s.tokens['alice']}"})
        with open(path, "wb") as f:
            f.write(conn.getresponse().read())
        vs = []
        for _ in range(3):
            t0 = time.perf_counter()
            v = subprocess.run([s.bench.airlock, "queue", "verify", "--queue", path, "--approvers", s.bench.allowed],
                               env=s.bench.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            vs.append(time.perf_counter() - t0)
            if v.returncode != 0:
                self.findings.append(f"airlock queue verify of {n} requests: status {v.returncode}: {v.stdout.strip()[:300]}")
        self.row("list", f"`airlock queue verify` of that chain offline, {n} requests", f"median {statistics.median(ms(vs)):.0f} ms")
        if final:
            # `airlock approve` against a long chain: it reads the whole chain (GET /v1/export)
            # before and after its POST, and folds it each time.
            ids = [r["id"] for r in s.pending(conn)[:3]]
            xs = []
            for rid in ids:
                p, dt = s.approve(rid, "alice")
                xs.append(dt)
                if p.returncode != 0:
                    self.findings.append(f"airlock approve {rid} at {n} pending: status {p.returncode}: {p.stderr.strip()[:300]}")
            self.row("list", f"`airlock approve` of one request among {n} pending ({len(xs)} runs)", summary(ms(xs)))
        conn.close()

    # ---- Stage 2: the second approval -> the agent's call returns.

    def sandbox(self, s, ws, script, *args):
        """`airlock run` of bash `script` in workspace ws, its data/ protected, queue = the service."""
        err = open(os.path.join(ws + ".stderr"), "w")
        return spawn([self.airlock, "run", "--backend", "namespaces", "--queue", s.url, "--token-file", s.token_files["laptop"],
                      "--approvers", self.allowed, "--wait", "10m", "--workspace", ws, "--protect", os.path.join(ws, "data"),
                      "--", "/bin/bash", "-c", script, "bash", *args],
                     env=self.env, cwd=ws, stdout=subprocess.PIPE, stderr=err, text=True)

    def wait_pending(self, s, conn, path, agent, ws, timeout=60):
        """The id of the pending request for `path`, polling the pending list every 5 ms."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in s.pending(conn):
                if r.get("path") == path:
                    return r["id"]
            if agent.poll() is not None:
                raise BenchError(f"the agent ended before its delete of {path} was held: status {agent.returncode}, "
                                 f"{agent.stdout.read()!r} {open(ws + '.stderr').read()[-800:]!r}")
            time.sleep(0.005)
        raise BenchError(f"nothing pending for {path} after {timeout} s")

    def half_approved(self, s, conn, name):
        """A sandbox whose rm of a protected file is held on `s`, and alice's approval of it (1 of
        2); (agent, workspace, target, request id, seconds alice's `airlock approve` took)."""
        ws = os.path.join(self.root, name)
        target = os.path.join(ws, "data", "f")
        os.makedirs(os.path.dirname(target))
        with open(target, "w") as f:
            f.write("precious\n")
        script = 'echo "called $EPOCHREALTIME"; rm "$1"; rc=$?; echo "returned $EPOCHREALTIME rc=$rc"'
        agent = self.sandbox(s, ws, script, target)
        rid = self.wait_pending(s, conn, target, agent, ws)
        p1, dt1 = s.approve(rid, "alice")
        if p1.returncode != 0 or "pending, 1/2" not in p1.stdout:
            raise BenchError(f"alice's approve of {rid}: status {p1.returncode}: {p1.stdout.strip()} {p1.stderr.strip()}")
        return agent, ws, target, rid, dt1

    def released(self, agent, ws, target, what):
        """When the agent called rm and when rm returned (its clock), once it has ended."""
        out, _ = agent.communicate(timeout=120)
        m1, m2 = re.search(r"called (\S+)", out), re.search(r"returned (\S+) rc=(\d+)", out)
        if agent.returncode != 0 or not (m1 and m2) or m2.group(2) != "0" or os.path.exists(target):
            raise BenchError(f"{what}: the agent's rm did not go ahead: status {agent.returncode}, output {out!r}, "
                             f"stderr {open(ws + '.stderr').read()[-800:]!r}")
        return float(m1.group(1)), float(m2.group(1))

    def stage_release(self):
        a = self.args
        s = self.service("bench_release")
        conn = s.connection()
        rounds = []  # (id, t_call, t_returned, t_bob_returned, approve seconds alice, bob)
        for i in range(a.rounds + 1):
            agent, ws, target, rid, dt1 = self.half_approved(s, conn, f"release{i}")
            p2, dt2 = s.approve(rid, "bob")
            t_bob = time.time()
            if p2.returncode != 0:
                raise BenchError(f"bob's approve of {rid}: status {p2.returncode}: {p2.stderr.strip()}")
            called, returned = self.released(agent, ws, target, f"release round {i}")
            if i == 0:
                continue  # warm-up: caches, the first connection of the pool
            rounds.append((rid, called, returned, t_bob, dt1, dt2))
        conn.close()
        # The service's timestamps: the request line and the deciding (second) approval's line.
        events, verified, _ = s.export()
        if verified.returncode != 0:
            self.findings.append(f"release: airlock queue verify: status {verified.returncode}: {verified.stdout.strip()[:300]}")
        request_ts, approve_ts, resolve_ts = {}, {}, {}
        for e in events:
            if e["event"] == "request":
                request_ts[e["id"]] = parse_ts(e["ts"])
            elif e["event"] == "approve":
                approve_ts[e["id"]] = parse_ts(e["ts"])  # the last one wins: the second approval
            elif e["event"] == "resolve":
                resolve_ts[e["id"]] = parse_ts(e["ts"])
        from_line = [(ret - approve_ts[rid]) * 1000 for rid, _, ret, _, _, _ in rounds]
        from_cli = [(ret - t_bob) * 1000 for _, _, ret, t_bob, _, _ in rounds]
        to_request = [(request_ts[rid] - call) * 1000 for rid, call, _, _, _, _ in rounds]
        to_resolve = [(resolve_ts[rid] - approve_ts[rid]) * 1000 for rid, *_ in rounds if rid in resolve_ts]
        approve_ms = [x * 1000 for r in rounds for x in r[4:6]]
        n = len(rounds)
        self.row("release", f"second approval's line written -> agent's rm returns ({n} rounds)", summary(from_line),
                 "p50 <= 100 ms (issue: from the page)")
        self.row("release", f"bob's `airlock approve` returns -> agent's rm returns ({n} rounds)", summary(from_cli))
        self.row("release", f"second approval's line -> the sandbox's resolve line (both the service's clock; {len(to_resolve)} rounds)", summary(to_resolve))
        self.row("release", f"agent's rm called -> its request line on the service ({n} rounds)", summary(to_request))
        self.row("release", f"`airlock approve` command, alice and bob ({len(approve_ms)} runs)", summary(approve_ms))

    # ---- Stage 2b: approve in the page (a real browser, a passkey) -> the agent's call returns.

    def stage_page(self):
        """alice approves with `airlock approve`, then bob clicks Approve in the page, his passkey a
        virtual authenticator in Debian's Chromium (Playwright); measured from the click to the
        agent's rm returning. bob's passkey comes into the approvers list as a team's would: a
        change proposed in the chain and approved by alice and bob with their SSH keys."""
        a = self.args
        s = self.service("bench_page")
        conn = s.connection()
        rounds = []  # (t_click, t_page_said, t_returned)
        bob = PageApprover(self, s, "bob")
        try:
            for i in range(a.rounds + 1):
                agent, ws, target, rid, _ = self.half_approved(s, conn, f"page{i}")
                ok, result, t_click, t_said = bob.approve(rid)
                if not ok:
                    raise BenchError(f"page round {i}: bob's approval of {rid} in the page: {result!r}")
                _, returned = self.released(agent, ws, target, f"page round {i}")
                if i:  # round 0 warms up
                    rounds.append((t_click, t_said, returned))
        finally:
            bob.close()
        conn.close()
        events, verified, _ = s.export()
        if verified.returncode != 0:
            self.findings.append(f"page: airlock queue verify: status {verified.returncode}: {verified.stdout.strip()[:300]}")
        n = len(rounds)
        self.row("page", f"bob clicks Approve in the page (passkey signs, POST) -> agent's rm returns ({n} rounds)",
                 summary([(ret - click) * 1000 for click, _, ret in rounds]), "p50 <= 100 ms")
        self.row("page", f"click -> the page says Approved ({n} rounds)", summary([(said - click) * 1000 for click, said, _ in rounds]))

    # ---- Stage 3: sustained holds with many sandboxes.

    def stage_holds(self):
        a = self.args
        S, H = a.sandboxes, a.holds
        s = self.service(f"bench_holds_{S}x{H}")
        script = 'for i in $(seq 1 "$1"); do rm "data/f$i" || { echo "rm data/f$i: $?"; exit 1; }; done; echo ok'
        if a.restart_postgres:
            # As an agent would: a delete refused while the queue is out of reach is tried again.
            script = ('for i in $(seq 1 "$1"); do n=0; until rm "data/f$i" 2>/dev/null; do n=$((n+1)); '
                      '[ $n -ge 300 ] && { echo "rm data/f$i refused 300 times"; exit 1; }; sleep 0.2; done; done; echo ok')
        outage = []  # (start, end) of the PostgreSQL restart, time.time()
        workspaces = []
        for k in range(S):
            ws = os.path.join(self.root, f"holds{S}x{H}-{k}")
            os.makedirs(os.path.join(ws, "data"))
            for i in range(1, H + 1):
                with open(os.path.join(ws, "data", f"f{i}"), "w") as f:
                    f.write(f"{k}/{i}\n")
            workspaces.append(ws)
        agents_done = threading.Event()
        lock = threading.Lock()
        approve_s, failures, outage_errors = [], [], []

        def during_outage():
            """Whether now is within the restart or the 15 s after it (the pool's reconnection)."""
            now = time.time()
            return any(start - 1 <= now <= (end or now) + 15 for start, end in outage)

        def restarter():
            """Restarts PostgreSQL once a third of the holds' lines are in the chain."""
            conn = s.connection()
            while not agents_done.is_set() and not stopping.is_set():
                try:
                    status, body = s.get(conn, "/v1/head")
                    if status == 200 and json.loads(body)["seq"] >= S * H * 4 // 3:
                        break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = s.connection()
                time.sleep(0.1)
            else:
                return
            outage.append((time.time(), None))
            log(f"holds: restarting PostgreSQL")
            self.pg.restart(a.outage)
            outage[0] = (outage[0][0], time.time())
            log(f"holds: PostgreSQL back after {outage[0][1] - outage[0][0]:.1f} s")

        signers_of = dict(self.fingerprint)  # whose key each approver's approvals carry
        page_ready = threading.Event()

        def approver(who):
            """Approves whatever is pending and not yet approved by `who`: --approve-workers
            `airlock approve` commands at a time (one by default), or, for --page-approver's bob,
            one click after the other in the page."""
            conn = s.connection()
            mine = set()      # approved (or found settled already)
            in_flight = set()
            slots = threading.Semaphore(a.approve_workers)
            page = None
            if a.page_approver and who == "bob":
                try:
                    page = PageApprover(self, s, who)
                    signers_of[who] = page.fingerprint
                except Exception as e:
                    with lock:
                        failures.append(f"{who}: enrolling a passkey in the page: {e}")
                    return
                finally:
                    page_ready.set()

            def approve(rid):
                try:
                    if page:
                        t_0 = time.monotonic()
                        ok, said, _, _ = page.approve(rid)
                        ok, dt, message = ok or "not pending" in said, time.monotonic() - t_0, said
                    else:
                        p, dt = s.approve(rid, who)
                        ok, message = p.returncode == 0 or "not pending" in p.stderr, f"status {p.returncode}: {p.stderr.strip()}"
                    with lock:
                        approve_s.append(dt)
                        in_flight.discard(rid)
                        if ok:
                            mine.add(rid)
                        elif during_outage():
                            outage_errors.append(f"{who} approve {rid}: {message[:200]}")
                        else:
                            failures.append(f"{who} approve {rid}: {message[:300]}")
                except Exception as e:  # an approver that dies would leave holds waiting for ever
                    with lock:
                        in_flight.discard(rid)
                        failures.append(f"{who} approve {rid}: {type(e).__name__}: {e}")
                finally:
                    slots.release()

            while not stopping.is_set() and len(failures) <= 50:
                with lock:
                    busy = mine | in_flight
                try:
                    todo = [r["id"] for r in s.pending(conn, who) if r["id"] not in busy]
                except (BenchError, OSError, http.client.HTTPException) as e:
                    with lock:
                        (outage_errors if during_outage() else failures).append(f"{who}: {e}")
                    conn.close()
                    conn = s.connection()
                    time.sleep(0.1)
                    continue
                if not todo:
                    if agents_done.is_set():
                        break
                    time.sleep(0.02)
                    continue
                for rid in todo:
                    slots.acquire()
                    if stopping.is_set():
                        return
                    with lock:
                        in_flight.add(rid)
                    if page:  # Playwright stays on its own thread
                        approve(rid)
                    else:
                        threading.Thread(target=approve, args=(rid,), daemon=True).start()
            for _ in range(a.approve_workers):  # the last commands end
                slots.acquire()
            if page:
                page.close()

        approvers = {who: threading.Thread(target=approver, args=(who,), daemon=True) for who in ("alice", "bob")}
        if a.page_approver:
            # bob's passkey is enrolled (a change of the list that alice and bob approve) first.
            approvers["bob"].start()
            page_ready.wait(180)
            if failures:
                raise BenchError(failures[0])
        cpu0, busy0 = cpu_seconds(s.process.pid), machine_busy()
        t0 = time.time()
        agents = [self.sandbox(s, ws, script, str(H)) for ws in workspaces]
        for t in approvers.values():
            if not t.is_alive() and t.ident is None:
                t.start()
        approvers = list(approvers.values())
        if a.restart_postgres:
            threading.Thread(target=restarter, daemon=True).start()
        outputs = []
        deadline = time.monotonic() + a.timeout
        for p in agents:
            try:
                outputs.append(p.communicate(timeout=max(1, deadline - time.monotonic()))[0])
            except subprocess.TimeoutExpired:
                outputs.append(None)
        t_end = time.time()
        serve_cpu = cpu_seconds(s.process.pid) - cpu0
        busy1 = machine_busy()
        machine = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
        agents_done.set()
        for t in approvers:
            t.join(60)
        problems = list(failures)
        for k, (p, out) in enumerate(zip(agents, outputs)):
            if out is None:
                problems.append(f"sandbox {k} still running after {a.timeout:.0f} s")
            elif p.returncode != 0 or out.strip() != "ok":
                problems.append(f"sandbox {k}: status {p.returncode}, output {out.strip()[-300:]!r}, stderr {open(workspaces[k] + '.stderr').read()[-500:]!r}")
            left = [f for f in os.listdir(os.path.join(workspaces[k], "data"))]
            if left:
                problems.append(f"sandbox {k}: files not deleted: {left}")
        # The chain: verified offline, every request resolved exactly once, approved by both.
        events, verified, path = s.export()
        if verified.returncode != 0:
            problems.append(f"airlock queue verify: status {verified.returncode}: {verified.stdout.strip()[:300]}")
        # The change of the approvers list that enrolled a passkey is not one of the holds.
        changes = {e["id"] for e in events if e["event"] == "request" and e.get("kind") == "approvers"}
        events = [e for e in events if e.get("id") not in changes]
        requests = [e for e in events if e["event"] == "request"]
        per = {e["id"]: {"resolve": [], "approve": []} for e in requests}
        other = {}
        # A request the service wrote after its sandbox had given up on it (an outage) is
        # cancelled by that sandbox when it asked again: settled, not left open.
        late = {e["id"] for e in events if e["event"] == "cancel" and "given up" in e.get("reason", "")}
        for e in events:
            if e["event"] in ("resolve", "approve"):
                per.setdefault(e["id"], {"resolve": [], "approve": []})[e["event"]].append(e)
            elif e["event"] != "request" and e.get("id") not in late:
                other[e["event"]] = other.get(e["event"], 0) + 1
        for rid in late:
            if per.get(rid, {}).get("resolve"):
                problems.append(f"request {rid}: cancelled as written late, yet resolved")
            per.pop(rid, None)
        once = sum(1 for d in per.values() if len(d["resolve"]) == 1 and d["resolve"][0].get("outcome") == "allowed")
        for rid, d in per.items():
            if len(d["resolve"]) != 1 or d["resolve"][0].get("outcome") != "allowed":
                problems.append(f"request {rid}: {len(d['resolve'])} resolve lines {[r.get('outcome') for r in d['resolve']]}, expected one 'allowed'")
            expected_signers = signers_of.values()
            signers = {x.get("signer") for x in d["approve"]}
            if len(d["approve"]) != 2 or signers != set(expected_signers):
                problems.append(f"request {rid}: approvals {len(d['approve'])} by {len(signers)} signer(s), expected alice's and bob's")
        if len(requests) != S * H + len(late):
            problems.append(f"{len(requests)} request lines, expected {S * H}" + (f" and {len(late)} written late" if late else ""))
        if other:
            problems.append(f"unexpected events: {other}")
        wall = t_end - t0
        first = min((parse_ts(e["ts"]) for e in requests), default=t0)
        last = max((parse_ts(d["resolve"][0]["ts"]) for d in per.values() if d["resolve"]), default=t_end)
        label = f"{S} sandboxes x {H} deletes" + (f", {a.approve_workers} approve commands in flight per approver" if a.approve_workers > 1 else "")
        self.row("holds", f"{label}: requests held, resolved once, chain", f"{len(requests)} held, {once} resolved exactly once, "
                 + (f"{len(late)} written after their sandbox gave up and cancelled by it, " if late else "") + 
                 f"{len(events)} lines, verify {'ok' if verified.returncode == 0 else 'FAILED'}")
        self.row("holds", f"{label}: wall time (first sandbox started -> last agent ended)", f"{wall:.1f} s = {len(requests) / wall:.2f} holds/s",
                 "sustained holds/s with 50 sandboxes")
        self.row("holds", f"{label}: CPU used by airlock serve meanwhile", f"{serve_cpu:.1f} s ({serve_cpu / wall:.0%} of one CPU); "
                 f"the machine's {os.cpu_count()} CPUs were {machine:.0%} busy")
        self.row("holds", f"{label}: first request line -> last resolve line (service's clock)",
                 f"{last - first:.1f} s = {len(requests) / (last - first) if last > first else float('nan'):.2f} holds/s")
        how = "alice's `airlock approve` and bob's click in the page" if a.page_approver else "`airlock approve` command"
        self.row("holds", f"{label}: {how} under load ({len(approve_s)} runs)",
                 f"{summary(ms(approve_s))}; each approver had a command running {sum(approve_s) / 2 / a.approve_workers / wall:.0%} of the wall time")
        if a.restart_postgres:
            if not outage or outage[0][1] is None:
                problems.append("PostgreSQL was not restarted (the chain never reached a third of its lines)")
            else:
                self.row("holds", f"{label}: PostgreSQL restarted in the middle", f"down {outage[0][1] - outage[0][0]:.1f} s; "
                         f"{len(outage_errors)} approver call(s) refused meanwhile, each saying why, and tried again")
        for p in problems[:10]:
            self.findings.append(f"holds {S}x{H}: {p}")
        if len(problems) > 10:
            self.findings.append(f"holds {S}x{H}: ... and {len(problems) - 10} more problems")
        if a.check and problems:
            raise BenchError(f"{len(problems)} problem(s), the first: {problems[0]}")

    def table(self):
        print()
        print(f"## airlock serve ({self.args.airlock_label})")
        print()
        print("| stage | measure | result | target |")
        print("|:---|:---|:---|:---|")
        for stage, measure, value, target in self.rows:
            print(f"| {stage} | {measure} | {value} | {target} |")
        print()
        print(f"Machine: {os.cpu_count()} CPUs; " + "; ".join(self.notes))
        if self.findings:
            print()
            print("Looked wrong:")
            for f in self.findings:
                print(f"- {f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--airlock", default=".build/release/airlock", help="the binary to measure (a private copy is used)")
    ap.add_argument("--pending", type=int, default=10000, help="requests appended and left pending (list stage)")
    ap.add_argument("--checkpoints", default="1000,5000", help="also measure the list at these counts, comma-separated")
    ap.add_argument("--append-threads", type=int, default=4, help="appends in flight at once")
    ap.add_argument("--list-rounds", type=int, default=20, help="rounds of each GET at the full count")
    ap.add_argument("--checkpoint-rounds", type=int, default=5, help="rounds of each GET at the other checkpoints")
    ap.add_argument("--rounds", type=int, default=15, help="measured rounds of the release stage (plus one warm-up)")
    ap.add_argument("--sandboxes", type=int, default=10, help="sandboxes at once in the holds stage (the issue says 50)")
    ap.add_argument("--holds", type=int, default=5, help="held deletes per sandbox, in sequence")
    ap.add_argument("--approve-workers", type=int, default=1, help="`airlock approve` commands in flight per approver (holds stage)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds the holds stage may take")
    ap.add_argument("--stages", default="list,release,page,holds", help="which stages, comma-separated")
    ap.add_argument("--restart-postgres", action="store_true",
                    help="holds stage: restart PostgreSQL once a third of the work is in the chain (agents retry refused deletes)")
    ap.add_argument("--outage", type=float, default=3, help="seconds PostgreSQL stays down with --restart-postgres")
    ap.add_argument("--page-approver", action="store_true",
                    help="in the holds stage bob approves in the page (Chromium, a passkey), alice with `airlock approve`")
    ap.add_argument("--check", action="store_true", help="exit 1 when the holds stage finds any problem (scripts/test)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, exported chains)")
    ap.add_argument("--label", help="said of the binary in the table's title (such as: debug build)")
    args = ap.parse_args()
    args.checkpoints = [int(x) for x in args.checkpoints.split(",") if x.strip()]
    if not os.access(args.airlock, os.X_OK):
        ap.error(f"no executable airlock at {args.airlock!r} (--airlock BIN)")
    if os.geteuid() != 0:
        ap.error("run as root: PostgreSQL is run as the postgres user, and the sandboxes use the namespaces backend as root")
    stages = [x.strip() for x in args.stages.split(",") if x.strip()]
    unknown = set(stages) - {"list", "release", "page", "holds"}
    if unknown:
        ap.error(f"unknown stages {sorted(unknown)} (list, release, page, holds)")
    args.airlock_label = os.path.abspath(args.airlock) + (f", {args.label}" if args.label else "")

    # Ctrl-C (SIGINT), SIGTERM and SIGHUP raise KeyboardInterrupt, so that the `finally` below
    # stops everything either way.
    def interrupted(signum, _):
        raise KeyboardInterrupt(f"signal {signum}")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)  # SIGINT too: a shell may have started us with it ignored

    bench = None
    status = 0
    interrupted = False
    try:
        bench = Bench(args)
        bench.set_up()
        for stage in stages:
            bench.notes.append(f"load average at the start of {stage}: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            try:
                getattr(bench, f"stage_{stage}")()
            except BenchError as e:
                bench.findings.append(f"{stage} stage stopped: {e}")
                status = 1
                log(f"{stage} stage stopped: {e}")
            # Its service is done with: it shuts down while the next stage runs.
            for s in bench.services:
                s.terminate()
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        status = 130
        interrupted = True
    except BenchError as e:
        log(f"failed: {e}")
        status = 1
    finally:
        if bench:
            bench.close(interrupted)
        else:
            stop(started)
    if bench and not interrupted:
        bench.table()  # after the close, which notes how the services ended
        if args.check and any("had not exited" in f for f in bench.findings):
            status = 1  # a service that does not stop on SIGTERM is a failure too
    return status


if __name__ == "__main__":
    sys.exit(main())
