#!/usr/bin/env python3
"""Held cloud API requests, end to end, with the real binary, queue file, keys and Kubernetes broker
(issue 11, Performance). Not a test: no pass/fail.

  apihold.py AIRLOCK PYTHON [ROUNDS]

PYTHON has the kubernetes client (the tools' virtualenv). An API server of the tests' own
(kubeapi.py, HTTPS on 127.0.0.1 with a CA of its own) stands in for a cluster; the operator's
kubeconfig names it with a token. Each round runs `airlock run --network proxy` with that
kubeconfig, whose agent lists the namespaces (its connection through the proxy is then open) and
deletes one with the kubernetes client, and measures:
  - request latency: from the agent's delete_namespace call to its `api` request line in the queue
    (seen by polling the file every 0.5 ms);
  - release latency: from the second `airlock approve` returning to the agent's call returning
    (the proxy forwards the request on a new TLS connection and waits for the server's answer).
A first round, unmeasured, makes the inspection CA. Prints medians and the worst of ROUNDS (15)."""
import hashlib, json, os, shutil, statistics, subprocess, sys, tempfile, time
from approvers import make_approvers

HERE = os.path.dirname(os.path.abspath(__file__))
airlock, python = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
root = tempfile.mkdtemp(prefix="airlock-bench-api-")
ws = os.path.join(root, "ws")
os.makedirs(ws)
keys, allowed = make_approvers(root)
queue = os.path.join(root, "state", "queue.jsonl")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=bench CA", "-keyout", "ca.key", "-out", "ca.pem")
with open(os.path.join(root, "ip.ext"), "w") as f:
    f.write("subjectAltName=IP:127.0.0.1\n")
openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/O=bench",
        "-keyout", "server.key", "-out", "server.csr")
openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1", "-days", "1",
        "-extfile", "ip.ext", "-out", "server.pem")
token = "bench-operator-token"
names = ["ns%d" % i for i in range(rounds + 1)]
server = subprocess.Popen(["python3", os.path.join(HERE, "kubeapi.py"), hashlib.sha256(token.encode()).hexdigest(),
                           os.path.join(root, "server.pem"), os.path.join(root, "server.key"), os.path.join(root, "ca.pem"),
                           *names], stderr=subprocess.PIPE, text=True)
port = int(server.stderr.readline().split()[-1])
kubeconfig = os.path.join(root, "kubeconfig")
with open(kubeconfig, "w") as f:
    f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: bench, cluster: {{server: "https://127.0.0.1:{port}", certificate-authority: ca.pem}}}}]
users: [{{name: bench, user: {{token: {token}}}}}]
contexts: [{{name: bench, context: {{cluster: bench, user: bench}}}}]
current-context: bench
""")
with open(os.path.join(root, "bench.toml"), "w") as f:
    f.write('extends = "default"\n[sandbox]\nnetwork = "proxy"\n[signoff]\nquorum = 2\nwait = "5m"\n')
agent = ("import sys, time\nfrom kubernetes import client, config\nconfig.load_kube_config()\n"
         "api = client.CoreV1Api()\napi.list_namespace()\nt = time.time()\napi.delete_namespace(sys.argv[1])\nprint(t, time.time(), flush=True)\n")
env = dict(os.environ, KUBECONFIG=kubeconfig, AIRLOCK_QUEUE=queue)


def pending():
    try:
        lines = [json.loads(line) for line in open(queue) if line.strip()]
    except FileNotFoundError:
        return None
    resolved = {e["id"] for e in lines if e["event"] in ("resolve", "cancel")}
    requests = [e for e in lines if e["event"] == "request" and e["id"] not in resolved]
    return requests[-1] if requests else None


request_ms, release_ms = [], []
for i, name in enumerate(names):
    run = subprocess.Popen([airlock, "run", "--profile", os.path.join(root, "bench.toml"), "--queue", queue,
                            "--approvers", allowed, "--", python, "-c", agent, name],
                           cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    request = None
    while request is None:
        request = pending()
        if request is None:
            time.sleep(0.0005)
    landed = time.time()
    for who in ("alice", "bob"):
        subprocess.run([airlock, "approve", request["id"], "--queue", queue, "--approvers", allowed,
                        "--key", f"{keys}/{who}"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    approved = time.time()
    out, _ = run.communicate(timeout=120)
    called, returned = map(float, out.split())
    if i == 0:
        continue  # the first run makes the CA and warms the caches
    request_ms.append((landed - called) * 1000)
    release_ms.append((returned - approved) * 1000)

server.kill()
shutil.rmtree(root, ignore_errors=True)
print(f"kubernetes delete_namespace held, {len(request_ms)} rounds:")
print(f"  call → request line in the queue: median {statistics.median(request_ms):.1f} ms, worst {max(request_ms):.1f} ms")
print(f"  second approval → call returns:  median {statistics.median(release_ms):.1f} ms, worst {max(release_ms):.1f} ms")
