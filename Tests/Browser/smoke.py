"""Proof, run by hand, that WebAuthn works in headless Chromium on this machine:

    /var/tmp/airlock-venv-0/bin/python Tests/Browser/smoke.py

Serves one page on 127.0.0.1, opens it as http://localhost:PORT/ (a WebAuthn RP ID must be a
domain name, and http://localhost counts as a secure context), registers an ES256 credential on a
virtual authenticator and signs a 64-byte challenge with it. Prints what the browser returned as
JSON, then checks the signature and the bytes OpenSSH's webauthn-sk signatures rely on. Then tries
user verification failing and the signature counter. Exits non-zero when a check fails.
"""

import base64
import hashlib
import http.server
import json
import os
import sys
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402

PAGE = b"<!doctype html><title>Airlock smoke</title><p>WebAuthn smoke test</p>"

# Runs in the page. b64u/unb64u convert between ArrayBuffers and base64url without padding.
HELPERS = """
const b64u = buf => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
const unb64u = s => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), c => c.charCodeAt(0));
"""

CREATE = "async () => {" + HELPERS + """
    const cred = await navigator.credentials.create({publicKey: {
        rp: {id: "localhost", name: "Airlock"},
        user: {id: crypto.getRandomValues(new Uint8Array(16)), name: "smoke", displayName: "Smoke"},
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        pubKeyCredParams: [{type: "public-key", alg: -7}],
        authenticatorSelection: {userVerification: "required", residentKey: "discouraged"},
        attestation: "none",
    }});
    return {
        rawId: b64u(cred.rawId),
        publicKey: b64u(cred.response.getPublicKey()),
        publicKeyAlgorithm: cred.response.getPublicKeyAlgorithm(),
        authenticatorData: b64u(cred.response.getAuthenticatorData()),
        clientDataJSON: b64u(cred.response.clientDataJSON),
    };
}"""

# Returns {error} instead of throwing, so the user-verification experiments can report it.
GET = "async ([rawId, challenge, userVerification]) => {" + HELPERS + """
    try {
        const cred = await navigator.credentials.get({publicKey: {
            challenge: unb64u(challenge),
            rpId: "localhost",
            allowCredentials: [{type: "public-key", id: unb64u(rawId)}],
            userVerification,
            timeout: 10000,
        }});
        return {
            authenticatorData: b64u(cred.response.authenticatorData),
            clientDataJSON: b64u(cred.response.clientDataJSON),
            signature: b64u(cred.response.signature),
        };
    } catch (e) {
        return {error: e.name + ": " + e.message};
    }
}"""


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def flags(auth_data):
    """The flags byte after the 32-byte RP ID hash, and its user-present and user-verified bits."""
    byte = auth_data[32]
    return {"byte": byte, "UP": bool(byte & 0x01), "UV": bool(byte & 0x04)}


def counter(auth_data):
    return int.from_bytes(auth_data[33:37], "big")


def serve():
    """A one-page HTTP server on a free port of 127.0.0.1, in a daemon thread."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args):
            pass  # keep the JSON output clean

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    failures = []

    def check(name, ok):
        print(("ok   " if ok else "FAIL ") + name, file=sys.stderr)
        if not ok:
            failures.append(name)

    server = serve()
    port = server.server_address[1]
    origin = f"http://localhost:{port}"
    challenge = os.urandom(64)  # the size of the SHA-512 digest OpenSSH has signed
    timings = {}

    with sync_playwright() as p:
        start = time.monotonic()
        chromium = browser.launch(p)
        timings["launch"] = time.monotonic() - start
        page = chromium.new_page()
        page.goto(origin + "/")
        cdp, authenticator = browser.add_authenticator(page)

        start = time.monotonic()
        made = page.evaluate(CREATE)
        timings["create"] = time.monotonic() - start
        start = time.monotonic()
        got = page.evaluate(GET, [made["rawId"], b64u(challenge), "required"])
        timings["get"] = time.monotonic() - start
        check("get() succeeded: " + got.get("error", ""), "error" not in got)
        if "error" in got:
            print(json.dumps({"create": made, "get": got}, indent=2))
            return 1

        # The signature counter, across a second get().
        again = page.evaluate(GET, [made["rawId"], b64u(os.urandom(64)), "required"])
        held = browser.credentials(cdp, authenticator)

        # User verification failing: the fingerprint no longer matches.
        cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False})
        unverified = {uv: page.evaluate(GET, [made["rawId"], b64u(os.urandom(64)), uv])
                      for uv in ("preferred", "required", "discouraged")}
        chromium.close()
    server.shutdown()

    reg_data = unb64u(made["authenticatorData"])
    auth_data = unb64u(got["authenticatorData"])
    client_data = unb64u(got["clientDataJSON"])
    report = {
        "origin": origin,
        "challenge": b64u(challenge),
        "create": {
            **made,
            "clientDataJSON_text": unb64u(made["clientDataJSON"]).decode(),
            "flags": flags(reg_data),
            "counter": counter(reg_data),
        },
        "get": {
            **got,
            "clientDataJSON_text": client_data.decode(),
            "flags": flags(auth_data),
            "counter": counter(auth_data),
        },
        "second_get": {"flags": flags(unb64u(again["authenticatorData"])),
                       "counter": counter(unb64u(again["authenticatorData"]))}
        if "error" not in again else again,
        "authenticator_credentials": [{k: v for k, v in c.items() if k != "privateKey"} for c in held],
        "user_not_verified": {
            uv: {"flags": flags(unb64u(r["authenticatorData"])),
                 "counter": counter(unb64u(r["authenticatorData"]))} if "error" not in r else r
            for uv, r in unverified.items()
        },
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    print(json.dumps(report, indent=2))

    # The assertion's signature: ES256 over authenticatorData || SHA-256(clientDataJSON).
    key = load_der_public_key(unb64u(made["publicKey"]))
    check("public key is P-256", isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1")
    try:
        key.verify(unb64u(got["signature"]), auth_data + hashlib.sha256(client_data).digest(),
                   ec.ECDSA(hashes.SHA256()))
        check("signature verifies", True)
    except InvalidSignature:
        check("signature verifies", False)
    check("rpIdHash is SHA-256(b'localhost')", auth_data[0:32] == hashlib.sha256(b"localhost").digest())
    prefix = ('{"type":"webauthn.get","challenge":"%s","origin":"%s"' % (b64u(challenge), origin)).encode()
    check("clientDataJSON starts with OpenSSH's prefix", client_data.startswith(prefix))
    check("assertion has UP and UV", flags(auth_data)["UP"] and flags(auth_data)["UV"])
    check("registration rpIdHash", reg_data[0:32] == hashlib.sha256(b"localhost").digest())

    print("%d checks failed" % len(failures) if failures else "all checks passed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
