import Mustache

/// The approval page's HTML (Mustache: `{{x}}` is HTML-escaped, so nothing from a request line
/// reaches the page as markup) and its one script. No third-party assets: the page works offline
/// and its Content-Security-Policy allows only itself.
enum PageTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [("head", head), ("signin", signin), ("list", list), ("request", request), ("passkeys", passkeys)] {
            // The templates are constants: a mistake in one is a programming error, caught by the tests.
            try! library.register(text, named: name)
        }
        return library
    }()

    static let head = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Airlock sign-off</title>
        <style>
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #1b1b1b; }
        header { display: flex; gap: 1rem; align-items: baseline; border-bottom: 1px solid #ccc; padding-bottom: .5rem; }
        header form { margin-left: auto; }
        table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; }
        code, pre { font: 13px ui-monospace, monospace; } pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .5rem; }
        dt { font-weight: 600; } dd { margin: 0 0 .4rem 0; word-break: break-all; }
        .ok { color: #0a6b2c; } .error { color: #a40000; } .state { font-weight: 600; }
        button { font: inherit; padding: .35rem .8rem; } pre:empty { display: none; }
        </style>
        <script src="/page.js" defer></script>
        </head><body>
        <header><strong><a href="/">Airlock sign-off</a></strong>{{#principal}}<span>signed in as <b id="principal">{{principal}}</b></span>
        <a href="/passkeys">passkeys</a>
        <form method="post" action="/session/end"><button id="signout">Sign out</button></form>{{/principal}}</header>
        """

    static let signin = """
        {{> head}}
        <main><h1>Sign in</h1>
        <p>Paste the approver token <code>airlock serve add-approver</code> printed for you. Decisions are not
        made with it: each one is signed by your passkey or SSH key.</p>
        <form method="post" action="/session"><label>Approver token
        <input type="password" name="token" id="token" autocomplete="off" required></label>
        <button id="signin">Sign in</button></form>
        {{#error}}<p class="error" id="result">{{error}}</p>{{/error}}
        </main></body></html>
        """

    static let list = """
        {{> head}}
        <main id="live" data-seq="{{seq}}">
        <h1>Pending requests: <span id="count">{{count}}</span></h1>
        {{#chainBreak}}<p class="error">The queue's chain is broken at {{chainBreak}}: no approval counts until it is repaired.</p>{{/chainBreak}}
        {{^any}}<p>Nothing is waiting for a decision.</p>{{/any}}
        {{#any}}<table><thead><tr><th>What it would do</th><th>Asked by</th><th>Sandbox</th><th>Expires</th><th>Approvals</th></tr></thead><tbody>{{/any}}
        {{#requests}}<tr class="request" id="r-{{id}}"><td><a href="/r/{{id}}">{{what}}</a><br><small>{{kind}} · rule {{rule}}</small></td>
        <td>{{requester}}</td><td>{{sandbox}}</td><td>{{expires}}</td><td>{{approvals}} of {{quorum}}</td></tr>
        {{/requests}}
        {{#any}}</tbody></table>{{/any}}
        {{#more}}<p id="more">… and {{more}} more, newer (all of them: <code>GET /v1/requests?state=pending</code>, or <code>airlock queue list --pending</code>).</p>{{/more}}
        </main></body></html>
        """

    static let request = """
        {{> head}}
        <main id="live" data-seq="{{seq}}">
        <h1>{{what}}</h1>
        <p>State: <span class="state" id="state">{{state}}</span>, {{approvalCount}} of {{quorum}} approvals.</p>
        <dl>
        <dt>Operation</dt><dd>{{kind}} {{what}}</dd>
        {{#api}}<dt>API request</dt><dd>{{api}}</dd>{{/api}}
        {{#listChange}}<dt>The new approvers list</dt><dd>(+ added, - removed, = kept)<pre id="list-change">{{listChange}}</pre></dd>{{/listChange}}
        <dt>Rule</dt><dd>{{rule}}</dd>
        <dt>Asked by</dt><dd>{{requester}}, sandbox {{sandbox}}{{#process}}, {{process}}{{/process}}</dd>
        <dt>Expires</dt><dd>{{expires}}</dd>
        <dt>Digest</dt><dd><code id="digest">{{digest}}</code></dd>
        <dt>Request id</dt><dd><code>{{id}}</code></dd>
        </dl>
        <h2>Decisions</h2>
        <ul id="decisions">
        {{#approvals}}<li class="ok">approved by {{principals}} (<code>{{signer}}</code>){{#reason}}: {{reason}}{{/reason}}</li>{{/approvals}}
        {{#denial}}<li class="error">denied by {{principals}} (<code>{{signer}}</code>){{#reason}}: {{reason}}{{/reason}}</li>{{/denial}}
        {{#rejected}}<li>not counted: {{decision}} by <code>{{signer}}</code>, {{reason}} {{detail}}</li>{{/rejected}}
        {{#undecided}}<li>none yet</li>{{/undecided}}
        </ul>
        <h2>The request line</h2>
        <pre id="line">{{line}}</pre>
        </main>
        {{#pending}}<form id="decide" onsubmit="return false">
        <p><label>Reason (optional) <input id="reason" size="50"></label></p>
        <button type="button" id="approve" data-id="{{id}}" data-decision="approve">Approve with my passkey</button>
        <button type="button" id="deny" data-id="{{id}}" data-decision="deny">Deny with my passkey</button>
        </form>{{/pending}}
        <p id="result" role="status"></p>
        </body></html>
        """

    static let passkeys = """
        {{> head}}
        <main><h1>Passkeys of {{principal}}</h1>
        <p>A passkey or security key signs your decisions in this page. After you register one, an
        administrator proposes an approvers list with the line it prints (<code>airlock serve propose-approvers</code>) and two approvers approve it; until then its signatures count for nothing.</p>
        <ul id="passkeys">{{#passkeys}}<li><code>{{id}}</code>: {{#listed}}in the approvers list{{/listed}}{{^listed}}not in the approvers list yet{{/listed}}</li>{{/passkeys}}
        {{^passkeys}}<li>none registered</li>{{/passkeys}}</ul>
        <button id="enrol">Register a passkey</button>
        <pre id="allowed-signers"></pre>
        <p id="result" role="status"></p>
        </main></body></html>
        """

    /// The page's script: registration, signing a decision, and following the queue.
    static let script = #"""
        "use strict";
        const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
            .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        const unb64u = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
        const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

        async function call(method, url, body) {
            const response = await fetch(url, {
                method, credentials: "same-origin",
                headers: body ? { "Content-Type": "application/json" } : {},
                body: body ? JSON.stringify(body) : undefined,
            });
            const text = await response.text();
            let json;
            try { json = JSON.parse(text); } catch { json = { error: { message: text } }; }
            if (!response.ok) throw new Error(json.error?.message ?? text);
            return json;
        }

        function say(text, ok) {
            const result = document.getElementById("result");
            result.textContent = text;
            result.className = ok ? "ok" : "error";
        }

        // Sign a decision: the service gives the bytes `airlock approve` would sign (the SSHSIG
        // to-be-signed blob of the decision statement); the authenticator signs them.
        async function decide(id, decision) {
            try {
                const asked = await call("GET", `/v1/requests/${id}/challenge?decision=${decision}`);
                const credential = await navigator.credentials.get({ publicKey: {
                    challenge: unb64u(asked.challenge), rpId: asked.rp_id, timeout: 120000,
                    allowCredentials: asked.credentials.map((k) => ({ type: "public-key", id: unb64u(k) })),
                    userVerification: "required",
                } });
                const r = credential.response;
                const done = await call("POST", `/v1/requests/${id}/${decision}`, {
                    sig_expires: asked.sig_expires,
                    reason: document.getElementById("reason").value || null,
                    webauthn: {
                        credential_id: b64u(credential.rawId), authenticator_data: b64u(r.authenticatorData),
                        client_data_json: b64u(r.clientDataJSON), signature: b64u(r.signature),
                    },
                });
                await refresh();
                say(`${decision === "approve" ? "Approved" : "Denied"}: line ${done.seq} of the queue.`, true);
            } catch (error) {
                say(`Not recorded: ${error.message}`, false);
            }
        }

        async function enrol() {
            try {
                const asked = await call("POST", "/v1/passkeys/challenge");
                const credential = await navigator.credentials.create({ publicKey: {
                    challenge: unb64u(asked.challenge),
                    rp: { id: asked.rp_id, name: "Airlock sign-off" },
                    user: { id: unb64u(asked.user_id), name: asked.user, displayName: asked.user },
                    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
                    authenticatorSelection: { userVerification: "required", residentKey: "preferred" },
                    excludeCredentials: asked.registered.map((k) => ({ type: "public-key", id: unb64u(k) })),
                    attestation: "none", timeout: 120000,
                } });
                const r = credential.response;
                const done = await call("POST", "/v1/passkeys", {
                    credential_id: b64u(credential.rawId), public_key: b64u(r.getPublicKey()),
                    authenticator_data: b64u(r.getAuthenticatorData()), client_data_json: b64u(r.clientDataJSON),
                });
                document.getElementById("allowed-signers").textContent = done.allowed_signers;
                say("Registered. It counts once the line above is in the approvers list: an administrator proposes it, two approvers approve.", true);
            } catch (error) {
                say(`Not registered: ${error.message}`, false);
            }
        }

        // Re-reads this page and swaps in what changed; the decision form goes once the request
        // is no longer pending.
        async function refresh() {
            const response = await fetch(location.href, { credentials: "same-origin" });
            if (!response.ok) return;
            const next = new DOMParser().parseFromString(await response.text(), "text/html");
            document.getElementById("live")?.replaceWith(next.getElementById("live"));
            if (!next.getElementById("decide")) document.getElementById("decide")?.remove();
        }

        // Live updates: a long poll on the queue; each new line refreshes the page.
        async function follow() {
            let seq = Number(document.getElementById("live").dataset.seq);
            for (;;) {
                try {
                    const response = await fetch(`/v1/events?after=${seq}&wait=25`, { credentials: "same-origin" });
                    if (!response.ok) { await sleep(3000); continue; }
                    const lines = (await response.text()).split("\n").filter((line) => line);
                    if (lines.length) {
                        seq = JSON.parse(lines[lines.length - 1]).seq;
                        await refresh();
                    }
                } catch {
                    await sleep(3000);
                }
            }
        }

        for (const button of document.querySelectorAll("button[data-decision]")) {
            button.onclick = () => decide(button.dataset.id, button.dataset.decision);
        }
        document.getElementById("enrol")?.addEventListener("click", enrol);
        if (document.getElementById("live")) follow();
        """#
}
