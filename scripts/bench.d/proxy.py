#!/usr/bin/env python3
"""The egress proxy against a direct connection and against mitmproxy doing the same interception,
side by side in one run on this machine (issue 10, Performance). Not a test: no pass/fail.

  proxy.py --airlock BIN --mitmdump BIN [--requests 2000] [--connections 16] [--seconds 5]
           [--new 500] [--idle 1000] [--hold 3] [--rounds 3] [--backend auto] [--rows direct,mitmproxy,...]
           [--profiles DIR] [--json FILE] [--keep]

The upstream is nginx on 127.0.0.1, reached as https://localhost:PORT/ with a certificate for
DNS:localhost from a test CA made here, answering every GET with a small body and keeping
connections alive. The client is loadgen.c beside this file (C, OpenSSL, epoll; compiled here),
which verifies every certificate. Rows:
  direct              the client straight to the upstream: the baseline, and the client's ceiling;
  mitmproxy           `mitmdump --mode regular -q`, its CA trusted by the client, the test CA trusted
                      upstream (ssl_verify_upstream_trusted_ca): TLS terminated and re-encrypted;
  airlock, inspecting `airlock run --network proxy` with `inspect = ["localhost"]` and
                      `upstream_ca` the test CA; the client trusts what airlock names in
                      SSL_CERT_FILE (the row is left out while the profile cannot say `inspect`);
  airlock, tunnel     the same without inspection: CONNECT tunnels, the client trusting the test CA.
The airlock rows' client runs inside the sandbox and finds the proxy by $HTTPS_PROXY, as an agent
does; the others run outside. Every measurement starts its own proxy (a fresh `airlock run`, a
fresh mitmdump). Each process (upstream, proxy, client) is started in a session of its own, as
the sandbox puts its agent in one, so that with autogroup scheduling every row shares the cores
out alike. airlock writes its network log as it does for an agent (beside the queue, in the work
directory): a line per connection, and per request when it inspects; mitmdump runs with -q and
logs nothing. The inspection CA is airlock's own, made on first use for the one domain inspected
here (`localhost`) in its state directory (/var/lib/airlock/ca/ as root).

Measured per row:
  - latency: one keep-alive connection, N sequential requests (after 200 unmeasured): p50, p99,
    and their difference from direct (the added latency);
  - throughput: 16 keep-alive connections, one request in flight on each, for S seconds (after one
    unmeasured): requests/s, and the proxy's CPU time per request (/proc/PID/stat, all threads);
  - new connections: N sequential connections, each a TCP connect (to the proxy), CONNECT, a full
    TLS handshake (the client never resumes) and one request: p50, p99; 20 unmeasured connections
    go first, so an inspecting proxy's leaf certificate comes from its cache;
  - idle: 1,000 connections through the proxy, each after CONNECT, its handshakes and one request,
    left idle: the proxy's VmRSS then (for airlock the `airlock run` process, supervisor and proxy
    together), and the growth of its anonymous memory per connection.
The first three are repeated in rounds, the rows interleaved within each so that a machine shared
with other work drifts alike for all; the medians are reported. The idle connections are opened
in the first round only.
Python 3 standard library only; needs nginx, openssl, and cc with libssl-dev."""
import argparse, json, os, platform, shutil, signal, socket, statistics, subprocess, sys, tempfile
import threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {ws}/nginx.pid;
error_log {ws}/nginx-error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {ws}/nginx-tmp;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    ssl_session_cache shared:bench:1m;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {ws}/upstream.pem;
        ssl_certificate_key {ws}/upstream.key;
        location / {{ default_type text/plain; return 200 "hello from the upstream, through whatever is in between\\n"; }}
    }}
}}
"""

PROFILE = """extends = "default"
description = "scripts/bench proxy: an upstream on localhost, {what}"
[sandbox]
network = "proxy"
[network]
allow = ["localhost"]
unknown = "deny"
{extra}"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on port {port} within {timeout} s")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def rss_kib(pid, field="VmRSS"):
    """VmRSS, or RssAnon (the process's own memory, without the pages of its binary and libraries)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User and system time of all the process's threads (not its children's)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Row:
    """How one row's client reaches the upstream, and which process is its proxy."""
    proxy_pid = None

    def __init__(self, bench, key, name):
        self.bench, self.key, self.name = bench, key, name

    def start(self):
        """Starts this row's own proxy, if it has one outside the client's command."""

    def stop(self):
        pass

    def client(self):
        """loadgen with the options this row needs (proxy, trusted CA)."""
        raise NotImplementedError

    def spawn(self, argv, delay):
        """Starts the client; with a delay, it waits that long before it begins."""
        if delay:
            argv = ["/bin/sh", "-c", f'sleep {delay}; exec "$@"', "sh", *argv]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.environment(), cwd=self.bench.workspace, start_new_session=True)

    def environment(self):
        return self.bench.env


class Direct(Row):
    def client(self):
        return [self.bench.loadgen, "--cafile", self.bench.test_ca]

    def environment(self):
        return {k: v for k, v in self.bench.env.items() if k.lower() not in ("https_proxy", "all_proxy")}


class Mitmproxy(Row):
    def start(self):
        b = self.bench
        self.port = free_port()
        self.confdir = f"{b.ws}/mitmproxy"  # its CA is made on the first start and kept
        self.process = subprocess.Popen(
            [b.mitmdump, "--mode", "regular", "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
             "--set", f"confdir={self.confdir}", "--set", f"ssl_verify_upstream_trusted_ca={b.test_ca}", "-q"],
            stdout=subprocess.DEVNULL, stderr=open(f"{b.ws}/mitmdump.log", "a"), start_new_session=True)
        wait_port(self.port, self.process, "mitmdump")
        self.proxy_pid = self.process.pid

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def client(self):
        return [self.bench.loadgen, "--proxy", f"127.0.0.1:{self.port}",
                "--cafile", f"{self.confdir}/mitmproxy-ca-cert.pem"]


class Airlock(Row):
    """The client runs inside `airlock run`, whose own process is the proxy."""

    def __init__(self, bench, key, name, profile, trust_test_ca, aws=False):
        super().__init__(bench, key, name)
        self.profile, self.trust_test_ca, self.aws = profile, trust_test_ca, aws

    def client(self):
        # Inspecting, the client trusts airlock's bundle through $SSL_CERT_FILE (OpenSSL's default).
        return [self.bench.loadgen, *(["--cafile", self.bench.test_ca] if self.trust_test_ca else [])]

    def spawn(self, argv, delay):
        b = self.bench
        process = super().spawn(
            [b.airlock, "run", "--profile", self.profile, "--network", "proxy", "--backend", b.backend,
             "--queue", f"{b.ws}/state/queue.jsonl", "--", *argv], delay)
        self.proxy_pid = process.pid
        return process

    def environment(self):
        env = dict(self.bench.env)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "LOADGEN_AWS"):
            env.pop(name, None)
        if self.aws:
            # The operator's keys, in airlock's environment only: the client gets placeholders.
            env.update(AWS_ACCESS_KEY_ID="AKIABENCHOPERATOR000", AWS_SECRET_ACCESS_KEY="b" * 40, LOADGEN_AWS="1")
        return env


class Bench:
    def __init__(self, options):
        self.options = options
        self.airlock, self.mitmdump, self.backend = options.airlock, options.mitmdump, options.backend
        self.ws = tempfile.mkdtemp(prefix="airlock-bench-proxy-")
        self.workspace = f"{self.ws}/ws"  # the sandbox's workspace: the client and the test CA
        for d in (self.workspace, f"{self.ws}/nginx-tmp", f"{self.ws}/state"):
            os.makedirs(d)
        self.test_ca = f"{self.workspace}/test-ca.pem"
        self.loadgen = f"{self.workspace}/loadgen"
        self.env = dict(os.environ, AIRLOCK_PROFILE_PATH=options.profiles)
        self.nginx = None

    def prepare(self):
        run(["cc", "-O2", "-o", self.loadgen, f"{HERE}/loadgen.c", "-lssl", "-lcrypto"])
        self.make_certificates()
        self.port = free_port()
        self.url = f"https://localhost:{self.port}/"
        with open(f"{self.ws}/nginx.conf", "w") as f:
            f.write(NGINX_CONF.format(ws=self.ws, port=self.port))
        nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin")
        self.nginx = subprocess.Popen([nginx, "-c", f"{self.ws}/nginx.conf", "-e", f"{self.ws}/nginx-error.log"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, self.nginx, "nginx")

    def make_certificates(self):
        """A test CA, and a leaf for DNS:localhost signed by it (P-256, as most sites use now)."""
        ws, ec = self.ws, ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        run(["openssl", "req", "-x509", *ec, "-keyout", f"{ws}/test-ca.key", "-out", self.test_ca, "-days", "2",
             "-subj", "/CN=airlock bench test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        run(["openssl", "req", *ec, "-keyout", f"{ws}/upstream.key", "-out", f"{ws}/upstream.csr",
             "-subj", "/CN=localhost"])
        with open(f"{ws}/upstream.ext", "w") as f:
            f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        run(["openssl", "x509", "-req", "-in", f"{ws}/upstream.csr", "-CA", self.test_ca, "-CAkey",
             f"{ws}/test-ca.key", "-CAcreateserial", "-out", f"{ws}/upstream.pem", "-days", "2",
             "-extfile", f"{ws}/upstream.ext"])

    def profile(self, name, what, extra=""):
        path = f"{self.ws}/{name}.toml"
        with open(path, "w") as f:
            f.write(PROFILE.format(what=what, extra=extra))
        return path

    def rows(self):
        tunnel = self.profile("tunnel", "CONNECT tunnels, nothing inspected")
        inspect = self.profile("inspect", "TLS inspected",
                               f'inspect = ["localhost"]\nupstream_ca = ["{self.test_ca}"]\n')
        known = {
            "direct": lambda: Direct(self, "direct", "direct"),
            "mitmproxy": lambda: Mitmproxy(self, "mitmproxy", "mitmproxy, intercepting"),
            "airlock-inspect": lambda: Airlock(self, "airlock-inspect", "airlock, inspecting", inspect, False),
            "airlock-tunnel": lambda: Airlock(self, "airlock-tunnel", "airlock, tunnel (CONNECT)", tunnel, True),
            "airlock-aws": lambda: Airlock(self, "airlock-aws", "airlock, inspecting AWS-signed requests", inspect, False, aws=True),
        }
        rows = []
        for key in self.options.rows.split(","):
            if key not in known:
                sys.exit(f"unknown row {key}: one of {', '.join(known)}")
            if key in ("airlock-inspect", "airlock-aws"):
                check = subprocess.run([self.airlock, "profile", "check", inspect], env=self.env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if check.returncode != 0:
                    why = (check.stdout.strip().splitlines() or [f"exit {check.returncode}"])[-1]
                    print(f"(row \"airlock, inspecting\" left out: this airlock cannot inspect yet: {why})")
                    continue
            rows.append(known[key]())
        return rows

    def measure(self, row, *mode, delay=0, on_start=None, on_line=None):
        """One loadgen run on a fresh proxy. Returns its JSON lines merged, the last winning.
        `on_start(row)` runs once the client is started, `on_line(row, result)` at each line."""
        row.start()
        try:
            process = row.spawn([*row.client(), self.url, *map(str, mode)], delay)
            watchdog = threading.Timer(self.options.timeout, process.kill)
            watchdog.start()
            try:
                if on_start:
                    on_start(row)
                merged = {}
                for line in process.stdout:
                    if line.startswith("{"):
                        result = json.loads(line)
                        if on_line:
                            on_line(row, result)
                        merged.update(result)
                process.wait()
            finally:
                watchdog.cancel()
            if process.returncode != 0 or not merged:
                raise RuntimeError(f"{' '.join(map(str, mode))}: exit {process.returncode}: "
                                   f"{process.stderr.read().strip()[-800:]}")
            return merged
        finally:
            row.stop()

    def throughput(self, row):
        """Requests/s, and the proxy's CPU per request over the measured window."""
        marks = {}

        def begin(row):
            time.sleep(1.0)  # the client's unmeasured second
            if row.proxy_pid:
                marks["begin"] = (time.monotonic(), cpu_seconds(row.proxy_pid))

        def end(row, result):
            if row.proxy_pid:
                marks["end"] = (time.monotonic(), cpu_seconds(row.proxy_pid))

        result = self.measure(row, "throughput", self.options.connections, self.options.seconds,
                              on_start=begin, on_line=end)
        if "begin" in marks and "end" in marks:
            wall = marks["end"][0] - marks["begin"][0]
            cpu = marks["end"][1] - marks["begin"][1]
            result["proxy_cores"] = cpu / wall
            result["proxy_cpu_us_per_request"] = cpu / wall / result["per_second"] * 1e6
        return result

    def idle(self, row):
        """The proxy's RSS at rest (before the client's first connection) and with every
        connection open and idle (a second after the last, the largest of three reads); its
        anonymous part too, whose growth is what each connection costs (the file-backed part is
        the binary's pages, which airlock hands back a second after start and which fault in
        again as code runs)."""
        rss = {}
        delay = 2  # airlock hands its start-up pages back a second after the sandbox started

        def at_rest(row):
            time.sleep(delay - 0.4)
            rss["rss_rest_kib"] = rss_kib(row.proxy_pid)
            rss["anon_rest_kib"] = rss_kib(row.proxy_pid, "RssAnon")

        def loaded(row, result):
            if "ready" in result:
                time.sleep(1.0)
                rss["rss_idle_kib"] = max(rss_kib(row.proxy_pid) for _ in range(3) if not time.sleep(0.2))
                rss["anon_idle_kib"] = rss_kib(row.proxy_pid, "RssAnon")

        result = self.measure(row, "idle", self.options.idle, self.options.hold + 2, delay=delay,
                              on_start=at_rest, on_line=loaded)
        return {**result, **rss}

    def run_row(self, row, first_round):
        o, say = self.options, lambda what: print(f"  {row.name}: {what}", file=sys.stderr, flush=True)
        result = {}
        say(f"latency, {o.requests} sequential requests on one connection")
        result["latency"] = self.measure(row, "latency", o.requests)
        say(f"throughput, {o.connections} connections for {o.seconds} s")
        result["throughput"] = self.throughput(row)
        say(f"{o.new} new connections")
        result["connect"] = self.measure(row, "connect", o.new)
        if first_round and not isinstance(row, Direct):
            say(f"{o.idle} idle connections")
            result["idle"] = self.idle(row)
        return result


def median(runs):
    """The median of each number across runs of the same measurements (dicts of the same shape)."""
    merged = {}
    for key in runs[0]:
        values = [run[key] for run in runs if key in run]
        if isinstance(values[0], dict):
            merged[key] = median(values)
        elif isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
            merged[key] = statistics.median(values)
        else:
            merged[key] = values[0]
    return merged


def report(rows, results, options):
    direct = results.get("direct")
    mitm = results.get("mitmproxy", {}).get("throughput", {}).get("per_second")

    def cell(value, fmt):
        return "—" if value is None else fmt.format(value)

    print(f"\nproxy benchmark: {options.requests} sequential requests; {options.connections} keep-alive "
          f"connections for {options.seconds} s; {options.new} new connections; {options.idle} idle connections. "
          f"Latencies in µs, new connections in ms; per idle connection: the growth of the proxy's "
          f"anonymous memory (RssAnon) from none to all open, divided by their number.\n")
    print("| Path | p50 / p99 per request | added p50 / p99 | requests/s | × mitmproxy | proxy CPU per request "
          f"| new connection p50 / p99 | added p50 | proxy RSS, {options.idle:,} idle | per idle connection |")
    print("|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        r = results.get(row.key)
        if r is None:
            print(f"| {row.name} | failed | | | | | | | | |")
            continue
        lat, thr, con, idle = r["latency"], r["throughput"], r["connect"], r.get("idle")
        added = added_new = None
        if direct and row.key != "direct":
            added = (lat["p50_us"] - direct["latency"]["p50_us"], lat["p99_us"] - direct["latency"]["p99_us"])
            added_new = (con["p50_us"] - direct["connect"]["p50_us"]) / 1000
        print("| " + " | ".join([
            row.name,
            f"{lat['p50_us']:.0f} / {lat['p99_us']:.0f}",
            cell(added, "{0[0]:+.0f} / {0[1]:+.0f}"),
            f"{thr['per_second']:,.0f}",
            cell(thr["per_second"] / mitm if mitm else None, "{:.1f}×"),
            cell(thr.get("proxy_cpu_us_per_request"), "{:.0f} µs"),
            f"{con['p50_us'] / 1000:.2f} / {con['p99_us'] / 1000:.2f}",
            cell(added_new, "{:+.2f}"),
            cell(idle and idle["rss_idle_kib"] / 1024, "{:.1f} MiB"),
            cell(idle and (idle["anon_idle_kib"] - idle["anon_rest_kib"]) / options.idle, "{:.1f} KiB"),
        ]) + " |")
    print("\nA new connection, phase by phase (p50, µs): TCP connect; CONNECT answered; TLS handshake; "
          "the one request.\n")
    print("| Path | TCP | CONNECT | TLS | request |")
    print("|:---|---:|---:|---:|---:|")
    for row in rows:
        phases = results.get(row.key, {}).get("connect", {}).get("phases_p50_us")
        if phases:
            print(f"| {row.name} | {phases['tcp']:.0f} | {phases['connect']:.0f} | {phases['tls']:.0f} | "
                  f"{phases['request']:.0f} |")
    reconnects = {row.name: results[row.key]["throughput"]["reconnects"] + results[row.key]["latency"]["reconnects"]
                  for row in rows if row.key in results}
    if any(reconnects.values()):
        print("\nkeep-alive connections ended by the other side (the client opened them again): " +
              ", ".join(f"{name} {n}" for name, n in reconnects.items() if n))

    target = next((results[k] for k in ("airlock-inspect", "airlock-tunnel") if k in results), None)
    if target is None:
        return
    which = "inspecting" if "airlock-inspect" in results else "tunnel (no inspecting row)"
    lines = []
    if mitm:
        ratio = target["throughput"]["per_second"] / mitm
        cpu = results["mitmproxy"]["throughput"].get("proxy_cpu_us_per_request")
        mine = target["throughput"].get("proxy_cpu_us_per_request")
        by_cpu = f", {cpu / mine:.1f}× less CPU per request" if cpu and mine else ""
        lines.append(f"throughput ≥ 10× mitmproxy's: {ratio:.2f}× ({'met' if ratio >= 10 else 'not met'}{by_cpu})")
    if direct:
        added = (target["latency"]["p50_us"] - direct["latency"]["p50_us"]) / 1000
        lines.append(f"p50 added latency ≤ 0.5 ms: {added:.3f} ms ({'met' if added <= 0.5 else 'not met'})")
    if "idle" in target:
        mib = target["idle"]["rss_idle_kib"] / 1024
        verdict = "fewer than 1,000: not judged" if options.idle < 1000 else "met" if mib <= 30 else "not met"
        lines.append(f"RSS ≤ 30 MiB at 1,000 idle connections: {mib:.1f} MiB at {options.idle:,} ({verdict})")
    print(f"\nTargets, airlock {which}: " + "; ".join(lines) + ".")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--airlock", required=True)
    p.add_argument("--mitmdump", required=True)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--new", type=int, default=500)
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--hold", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3, help="rounds of latency, throughput and new connections, "
                   "every row in each; the medians are reported")
    p.add_argument("--backend", default="auto")
    p.add_argument("--profiles", default=f"{ROOT}/profiles", help="where `extends = \"default\"` is found")
    p.add_argument("--rows", default="direct,mitmproxy,airlock-inspect,airlock-aws,airlock-tunnel")
    p.add_argument("--timeout", type=int, default=300, help="seconds one measurement may take before it is killed")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    options = p.parse_args()
    bench = Bench(options)
    try:
        bench.prepare()
        mitm_version = run([options.mitmdump, "--version"]).stdout.splitlines()[0]
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {platform.release()}; "
              f"{run(['openssl', 'version']).stdout.strip()}; {mitm_version}; backend {options.backend}",
              file=sys.stderr)
        rows = bench.rows()
        rounds = {row.key: [] for row in rows}
        for number in range(options.rounds):
            print(f"round {number + 1} of {options.rounds}", file=sys.stderr)
            for row in rows:
                try:
                    rounds[row.key].append(bench.run_row(row, first_round=number == 0))
                except Exception as error:  # one row failing leaves the others' figures
                    print(f"  {row.name}: failed: {error}", file=sys.stderr)
        results = {key: median(runs) for key, runs in rounds.items() if runs}
        report(rows, results, options)
        spread = [f"{row.name} {min(r['throughput']['per_second'] for r in rounds[row.key]):,.0f}–"
                  f"{max(r['throughput']['per_second'] for r in rounds[row.key]):,.0f}"
                  for row in rows if len(rounds[row.key]) > 1]
        if spread:
            print(f"\nMedians of {options.rounds} rounds, the rows interleaved in each; requests/s ranged: "
                  + "; ".join(spread) + f". The idle connections were opened in the first round only.")
        for key in ("airlock-inspect", "airlock-tunnel"):
            pairs = list(zip(rounds.get(key, []), rounds.get("mitmproxy", [])))
            if len(pairs) > 1:
                ratios = [a["throughput"]["per_second"] / b["throughput"]["per_second"] for a, b in pairs]
                print(f"{key} ÷ mitmproxy, requests/s of the same round: {min(ratios):.1f}–{max(ratios):.1f}×, "
                      f"median {statistics.median(ratios):.1f}×.")
        if options.json:
            with open(options.json, "w") as f:
                json.dump({"median": results, "rounds": rounds}, f, indent=2)
    finally:
        if bench.nginx:
            bench.nginx.terminate()
            bench.nginx.wait()
        if options.keep:
            print(f"(work directory kept: {bench.ws})", file=sys.stderr)
        else:
            shutil.rmtree(bench.ws, ignore_errors=True)


if __name__ == "__main__":
    main()
