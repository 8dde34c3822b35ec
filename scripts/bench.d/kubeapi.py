#!/usr/bin/env python3
"""A Kubernetes API server's few paths, for the Kubernetes broker's tests and scripts/bench api:
discovery (/api, /apis, /api/v1) and namespaces (list, get, delete), over TLS with an optional
client certificate. It knows the operator's token by its SHA-256 (its command line is readable by
others) and answers 401 to any request without that token or a client certificate naming
operator.example; it writes "request METHOD PATH AUTH HOST" and "deleted NAME" on its stderr, AUTH
one of token, cert, placeholder, other, none.

  kubeapi.py TOKEN_SHA256 CERTIFICATE KEY CLIENT_CA [NAMESPACE...]

Prints "listening on PORT" on stderr once it listens on 127.0.0.1. Python 3 standard library only."""
import hashlib, http.server, json, socket, ssl, sys, threading
token_digest, certificate, key, ca = sys.argv[1:5]
namespaces = set(sys.argv[5:]) or {"default", "doomed", "keep"}
lock = threading.Lock()

def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}

def namespace(name):
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}, "status": {"phase": "Active"}}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # As Go's servers do: the head and the body go out at once, not the body after a delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def who(self):
        peer = self.connection.getpeercert()
        if peer and any(value == "operator.example" for kind, value in peer.get("subjectAltName", ())):
            return "cert"
        auth = self.headers.get_all("Authorization") or []
        if len(auth) == 1 and auth[0].startswith("Bearer ") and hashlib.sha256(auth[0][7:].encode()).hexdigest() == token_digest:
            return "token"
        if any("airlock-placeholder" in value for value in auth):
            return "placeholder"
        return "other" if auth else "none"

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        who = self.who()
        sys.stderr.write("request %s %s %s %s\n" % (self.command, self.path, who, self.headers.get("Host")))
        sys.stderr.flush()
        if who not in ("cert", "token"):
            return self.reply(401, status(401, "Unauthorized", "Unauthorized"))
        path = self.path.split("?")[0].rstrip("/")
        parts = path.split("/")
        with lock:
            # Discovery, as kubectl asks before anything else.
            if path == "/api" and self.command == "GET":
                return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            if path == "/apis" and self.command == "GET":
                return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            if path == "/api/v1" and self.command == "GET":
                return self.reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                    {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
                     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"], "shortNames": ["ns"]}]})
            if path == "/api/v1/namespaces" and self.command == "GET":
                items = [namespace(n) for n in sorted(namespaces)]
                return self.reply(200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items})
            if len(parts) == 5 and path.startswith("/api/v1/namespaces/") and parts[4] in namespaces:
                if self.command == "GET":
                    return self.reply(200, namespace(parts[4]))
                if self.command == "DELETE":
                    namespaces.discard(parts[4])
                    sys.stderr.write("deleted %s\n" % parts[4])
                    sys.stderr.flush()
                    return self.reply(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        return self.reply(404, status(404, "NotFound", "the server could not find the requested resource"))

    do_GET = do_DELETE = do_POST = do_PUT = do_PATCH = handle_any

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(certificate, key)
context.load_verify_locations(ca)
context.verify_mode = ssl.CERT_OPTIONAL
server.socket = context.wrap_socket(server.socket, server_side=True)
sys.stderr.write("listening on %d\n" % server.server_address[1])
sys.stderr.flush()
server.serve_forever()
