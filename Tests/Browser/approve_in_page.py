"""Approvers at work in the approval page, in a real Chromium with virtual passkeys.

Run by ServiceTests (Tests/AirlockSandboxTests/PageTests.swift), which starts `airlock serve`
on a real PostgreSQL, makes the requests, and afterwards checks the chain this leaves behind
(`airlock queue verify`, `ssh-keygen -Y verify`). Here: alice and bob sign in with their
approver tokens, each registers a passkey (and the administrator proposes a new approvers list
with the printed line, which alice and bob approve with their SSH keys: the list changes in the
chain), and decide:

- alice approves FIRST, then her approval is replayed to FIRST (answered as counted already,
  nothing written) and to SECOND (refused);
- a real assertion made without user verification is refused;
- bob approves FIRST, and alice's open page shows it approved without a reload (live update);
- alice denies THIRD.

Prints one JSON object with what happened; exits non-zero at the first thing that is wrong.
"""
import argparse
import json
import os
import subprocess
import sys

from playwright.sync_api import expect, sync_playwright

import browser


def check(condition, what):
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)


def snap(page, name):
    """With $PAGE_SCREENSHOTS set, a picture of the page there, for a human to look at."""
    if os.environ.get("PAGE_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["PAGE_SCREENSHOTS"], name + ".png"), full_page=True)


def sign_in(context, base, token, name):
    page = context.new_page()
    page.goto(base + "/")
    check(page.locator("#signin").count() == 1, "the page asks an unknown visitor to sign in")
    page.fill("#token", "airlock_not_a_token")
    page.click("#signin")
    check(page.locator("#result").count() == 1 and "not an approver token" in page.inner_text("#result"),
          f"a wrong token is refused: {page.url} {page.content()[:2000]}")
    page.fill("#token", token)
    page.click("#signin")
    page.wait_for_selector("#principal")
    check(page.inner_text("#principal") == name, f"signed in as {name}")
    return page


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(done.returncode == 0, f"{' '.join(argv)}: {done.stdout} {done.stderr}")
    return done.stdout


def admin_adds(page, args, line):
    """The administrator's step: the list in force and `line`, proposed in the chain and approved
    there by alice and bob with their SSH keys; the file `args.list` follows the list in force."""
    with open(args.list) as f:
        proposed = f.read() + line + "\n"
    with open(args.list + ".next", "w") as f:
        f.write(proposed)
    made = run([args.airlock, "serve", "propose-approvers", args.list + ".next", "--database", args.database,
                "--approvers", args.approvers, "--as", "admin"])
    check("+ " + line.split()[0] in made, f"the proposal adds the passkey: {made}")
    request_id = made.split()[3].rstrip(",")
    page.goto(f"{args.base}/r/{request_id}")
    shown = page.inner_text("#list-change")
    check(f"+ {line.split()[0]} sk-ecdsa-sha2-nistp256@openssh.com SHA256:" in shown and "= alice ssh-ed25519" in shown,
          f"the change's page shows what it changes: {shown}")
    snap(page, "approvers-change")
    for who in ("alice", "bob"):
        run([args.airlock, "approve", request_id, "--queue", args.base, "--approvers", args.approvers,
             "--token-file", f"{args.root}/{who}.token", "--key", f"{args.root}/approvers/{who}"])
    os.replace(args.list + ".next", args.list)


def enrol(page, args):
    base = args.base
    page.goto(base + "/passkeys")
    cdp, authenticator = browser.add_authenticator(page)
    page.click("#enrol")
    page.wait_for_selector("#result.ok, #result.error")
    line = page.inner_text("#allowed-signers").strip()
    check(line.startswith(page.inner_text("#principal") + ' namespaces="airlock" sk-ecdsa-sha2-nistp256@openssh.com '),
          f"the page prints an allowed_signers line: {line!r} / {page.inner_text('#result')!r}")
    page.reload()
    check("not in the approvers list yet" in page.inner_text("#passkeys"), f"the page shows the passkey as not listed yet: {page.inner_text('#passkeys')}")
    admin_adds(page, page_args, line)
    page.goto(page_args.base + "/passkeys")
    check("in the approvers list" in page.inner_text("#passkeys") and "not in" not in page.inner_text("#passkeys"),
          f"the page shows the passkey as listed: {page.inner_text('#passkeys')}")
    return line, cdp, authenticator


def decide(page, base, request_id, decision, reason):
    page.goto(f"{base}/r/{request_id}")
    page.fill("#reason", reason)
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(f"/{request_id}/{decision}")) as sent:
        page.click(f"#{decision}")
    page.wait_for_selector("#result.ok, #result.error")
    result = page.inner_text("#result")
    check(result.startswith("Approved" if decision == "approve" else "Denied"), f"{decision} {request_id}: {result}")
    return sent.value.post_data


def post(page, base, path, body):
    """A POST with the page's session cookie, from the page's own origin."""
    response = page.request.post(base + path, data=body, headers={"Content-Type": "application/json", "Origin": base})
    return response.status, response.text()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--alice", required=True, help="alice's approver token")
    parser.add_argument("--bob", required=True, help="bob's approver token")
    parser.add_argument("--approvers", required=True, help="the service's allowed_signers file")
    parser.add_argument("--list", required=True, help="a copy of it, which follows the list in force")
    parser.add_argument("--airlock", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--root", required=True, help="where the tokens (NAME.token) and keys (approvers/NAME) are")
    parser.add_argument("--first", required=True)
    parser.add_argument("--second", required=True)
    parser.add_argument("--third", required=True)
    args = parser.parse_args()
    global page_args
    page_args = args
    base = args.base
    out = {}
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        alice_context, bob_context = chromium.new_context(), chromium.new_context()
        alice = sign_in(alice_context, base, args.alice, "alice")
        listed = alice.inner_text("#live")
        check(all(f"r-{i}" in alice.inner_html("#live") for i in (args.first, args.second, args.third)),
              f"the pending list shows the three requests: {listed}")
        snap(alice, "list")
        out["alice_line"], cdp, authenticator = enrol(alice, args)
        snap(alice, "passkeys")

        approval = decide(alice, base, args.first, "approve", "looked at it in the page")
        out["alice_approval"] = json.loads(approval)
        expect(alice.locator("#live")).to_contain_text("1 of 2 approvals")
        check("nil" not in alice.inner_text("#live").split() and "()" not in alice.inner_text("#live"),
              f"the request page shows no empty fields: {alice.inner_text('#live')}")
        snap(alice, "approved-once")

        # The same assertion again, for the same request and for another: neither counts. For the
        # same request it is what a retry after a lost answer sends: told it counts already, and
        # nothing is written (the test counts the decision lines afterwards).
        status, text = post(alice, base, f"/v1/requests/{args.first}/approve", approval)
        out["replay_same"] = [status, text]
        check(status == 200 and json.loads(text).get("already") is True,
              f"a replayed approval of the same request is answered as counted already: {status} {text}")
        status, text = post(alice, base, f"/v1/requests/{args.second}/approve", approval)
        out["replay_other"] = [status, text]
        check(status == 409, f"an approval replayed onto another request is refused: {status} {text}")

        # A real assertion without user verification: the authenticator's check fails and the
        # page's own call asks for verification, so make the call by hand as a hostile page might.
        cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False})
        asked = alice.evaluate(f"fetch('/v1/requests/{args.second}/challenge?decision=approve').then(r => r.json())")
        unverified = alice.evaluate("""async (asked) => {
            const unb64u = (t) => Uint8Array.from(atob(t.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
            const b64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
            const c = await navigator.credentials.get({ publicKey: { challenge: unb64u(asked.challenge), rpId: asked.rp_id,
                userVerification: "discouraged" } });
            return { flags: new Uint8Array(c.response.authenticatorData)[32], body: JSON.stringify({ sig_expires: asked.sig_expires,
                webauthn: { credential_id: b64u(c.rawId), authenticator_data: b64u(c.response.authenticatorData),
                            client_data_json: b64u(c.response.clientDataJSON), signature: b64u(c.response.signature) } }) };
        }""", asked)
        out["unverified_flags"] = unverified["flags"]
        check(unverified["flags"] & 0x04 == 0 and unverified["flags"] & 0x01, f"the assertion has UP and no UV: {unverified['flags']}")
        status, text = post(alice, base, f"/v1/requests/{args.second}/approve", unverified["body"])
        out["unverified"] = [status, text]
        check(status == 409 and "bad signature" in text, f"an approval without user verification is refused: {status} {text}")
        cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": True})

        # Alice watches FIRST; bob approves it in his own browser.
        alice.goto(f"{base}/r/{args.first}")
        bob = sign_in(bob_context, base, args.bob, "bob")
        out["bob_line"] = enrol(bob, args)[0]
        out["bob_approval"] = json.loads(decide(bob, base, args.first, "approve", "agreed"))
        expect(alice.locator("#state")).to_have_text("approved", timeout=30000)
        check(alice.locator("#decide").count() == 0, "the decision buttons go once the request is approved")
        snap(alice, "approved-live")

        out["alice_denial"] = json.loads(decide(alice, base, args.third, "deny", "not today"))
        expect(alice.locator("#state")).to_have_text("denied")
        alice.goto(base + "/")
        check(f"r-{args.first}" not in alice.inner_html("#live") and f"r-{args.second}" in alice.inner_html("#live"),
              "the pending list keeps SECOND only")
        chromium.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
