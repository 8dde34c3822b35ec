import AirlockSignOff
import Crypto
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The approval page (docs/serve.md): approvers sign in with their approver token (kept in an
/// HttpOnly, SameSite=Strict cookie), see the pending requests live, and sign each decision with a
/// passkey. The page never decides anything itself: a decision is the browser's WebAuthn assertion
/// over the bytes `airlock approve` signs, stored as an SSHSIG and counted by the same fold as a
/// CLI signature.
extension SignOffService {
    static let sessionCookie = "airlock_session"
    /// The most rows the pending list shows (the oldest first); a person reads no more at once,
    /// and 10,000 rows took longer to render than to fold.
    static let listedRows = 500

    func addPage(to router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try await listPage(request) }
        router.get("/r/:id") { request, context in try await requestPage(request, id: try context.parameters.require("id")) }
        router.get("/passkeys") { request, _ in try await passkeysPage(request) }
        router.post("/session") { request, _ in try await signIn(request) }
        router.post("/session/end") { request, _ in try signOut(request) }
        router.get("/page.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: PageTemplates.script)))
        }
        router.post("/v1/passkeys/challenge") { request, _ in try await passkeyChallenge(request) }
        router.post("/v1/passkeys") { request, _ in try await registerPasskey(request) }
        router.get("/v1/requests/:id/challenge") { request, context in try await decisionChallenge(request, context) }
    }

    // MARK: - Pages

    /// The approver signed in through the page's cookie, or nil (the sign-in page is shown).
    func pageApprover(_ request: Request) async throws -> PostgresQueueStore.Principal? {
        guard let token = request.cookies[Self.sessionCookie]?.value,
              let principal = try await store.principal(token: token), principal.kind == .approver else { return nil }
        return principal
    }

    func listPage(_ request: Request) async throws -> Response {
        guard let approver = try await pageApprover(request) else { return page("signin", ["title": "Sign in"]) }
        let (seq, state) = try await folded()
        let pending = state.order.compactMap { state.requests[$0] }.filter { $0.state == .pending }
        var object: [String: Any] = [
            "title": "Pending requests (\(pending.count))", "principal": approver.name, "seq": Int(seq),
            "count": pending.count, "any": !pending.isEmpty, "requests": pending.prefix(Self.listedRows).map(Self.row),
        ]
        if pending.count > Self.listedRows { object["more"] = pending.count - Self.listedRows }
        object["chainBreak"] = state.chainBreak.map { "\($0)" }
        return page("list", object)
    }

    func requestPage(_ request: Request, id: String) async throws -> Response {
        guard let approver = try await pageApprover(request) else { return page("signin", ["title": "Sign in"]) }
        let (seq, state) = try await folded()
        guard let found = state.requests[id] else {
            return page("list", ["title": "No such request", "principal": approver.name, "seq": Int(seq), "count": 0, "any": false,
                                 "requests": [Any](), "chainBreak": "there is no request \(id)"], status: .notFound)
        }
        var object = Self.row(found)
        let op = found.request.operation
        func who(_ signer: String) -> String {
            state.approvers?.principals(forFingerprint: signer, namespace: SSHSignature.airlockNamespace, at: Date()).joined(separator: ", ") ?? "?"
        }
        object["title"] = op.subject
        object["principal"] = approver.name
        object["seq"] = Int(seq)
        object["state"] = found.state.rawValue
        object["pending"] = found.state == .pending
        object["digest"] = found.request.digest
        object["approvalCount"] = found.approvals.count
        // Only what is there: Mustache would print a nil as "nil".
        object["api"] = op.api.map { "\($0.method) \(op.host ?? "?"):\(op.port ?? 0)\($0.target)" }
        object["process"] = op.api == nil && op.kind != .connect && op.kind != .approvers ? "pid \(found.request.pid), \(op.exe)" : nil
        // A new approvers list: what it changes, against the list in force while it is pending.
        object["listChange"] = op.approvers.map { ApproversDiff.lines(from: found.state == .pending ? state.approvers : nil, to: $0).joined(separator: "\n") }
        func decision(_ d: CountedDecision) -> [String: Any] {
            var o: [String: Any] = ["signer": d.signer, "principals": who(d.signer)]
            o["reason"] = d.reason
            return o
        }
        object["approvals"] = found.approvals.map(decision)
        object["denial"] = found.denial.map(decision)
        object["rejected"] = found.rejected.map { ["decision": $0.decision.rawValue, "signer": $0.signer, "reason": $0.reason.rawValue, "detail": $0.detail] }
        object["undecided"] = found.approvals.isEmpty && found.denial == nil && found.rejected.isEmpty
        object["line"] = String(decoding: (try? QueueWire.encode(.request(found.request))) ?? [], as: UTF8.self)
        return page("request", object)
    }

    func passkeysPage(_ request: Request) async throws -> Response {
        guard let approver = try await pageApprover(request) else { return page("signin", ["title": "Sign in"]) }
        let listed = try await folded().1.approvers
        let passkeys = try await store.passkeys(of: approver.name).map { key -> [String: Any] in
            ["id": key.id, "listed": !(listed?.principals(for: key.publicKey, namespace: SSHSignature.airlockNamespace, at: Date()).isEmpty ?? true)]
        }
        return page("passkeys", ["title": "Passkeys", "principal": approver.name, "passkeys": passkeys])
    }

    /// A request as a row of the list (and the start of its own page).
    static func row(_ state: RequestState) -> [String: Any] {
        let op = state.request.operation
        return ["id": state.id, "what": op.subject, "kind": op.kind.rawValue, "rule": op.rule,
                "requester": state.request.requester, "sandbox": op.sandbox, "expires": RFC3339.format(op.expires),
                "approvals": state.approvals.count, "quorum": state.quorum]
    }

    /// The chain's last line and the fold of the whole chain (parsed once, `ChainCache`).
    func folded() async throws -> (UInt64, QueueState) {
        let (seq, log) = try await chain.log(store)
        return (seq, QueueState.fold(log, approvers: approvers(), now: Date()))
    }

    func page(_ template: String, _ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = PageTemplates.library.render(object, withTemplate: template) ?? ""
        return Response(status: status, headers: Self.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// Only the page's own script and styles; never framed (a framed Approve button could be
    /// clicked through); no referrer leaves for another site with a request id in it (not
    /// no-referrer: with it, Chromium sends `Origin: null` on the page's own form posts).
    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPFields.Element.Name("X-Frame-Options")!: "DENY", HTTPFields.Element.Name("Referrer-Policy")!: "same-origin", .cacheControl: "no-store",
    ]

    // MARK: - Session

    struct SignInForm: Decodable { var token: String }

    /// `POST /session`: the approver's token, from the sign-in form, becomes the session cookie.
    func signIn(_ request: Request) async throws -> Response {
        try checkOrigin(request, "POST /session")
        let bytes = try await body(request, "POST /session")
        let form = try? URLEncodedFormDecoder().decode(SignInForm.self, from: String(decoding: bytes, as: UTF8.self))
        guard let form, let principal = try await store.principal(token: form.token.trimmingCharacters(in: .whitespaces)),
              principal.kind == .approver else {
            var response = page("signin", ["title": "Sign in", "error": "That is not an approver token this service issued."], status: .unauthorized)
            response.setCookie(expired)
            return response
        }
        var response = Response.redirect(to: "/", type: .normal)
        response.setCookie(Cookie(name: Self.sessionCookie, value: form.token.trimmingCharacters(in: .whitespaces), path: "/",
                                  secure: origin.isSecure, httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request) throws -> Response {
        try checkOrigin(request, "POST /session/end")
        var response = Response.redirect(to: "/", type: .normal)
        response.setCookie(expired)
        return response
    }

    var expired: Cookie {
        Cookie(name: Self.sessionCookie, value: "", expires: Date(timeIntervalSince1970: 0), path: "/", secure: origin.isSecure, httpOnly: true, sameSite: .strict)
    }

    /// A state-changing request carried by the cookie must come from the page itself: the cookie
    /// is SameSite=Strict, and the Origin header (which browsers send with every POST) must be ours.
    func checkOrigin(_ request: Request, _ what: String) throws {
        guard let sent = request.headers[.origin] else { return }
        guard sent == origin.value else {
            throw HTTPError(.forbidden, message: "\(what): sent from \(sent), not from this service's page (\(origin.value))")
        }
    }

    // MARK: - Passkeys

    /// `POST /v1/passkeys/challenge`: what the page passes to `navigator.credentials.create`.
    func passkeyChallenge(_ request: Request) async throws -> Response {
        let what = "POST /v1/passkeys/challenge"
        let approver = try await caller(request, allowed: [.approver], for: what)
        let challenge = challenges.issue(for: approver.name)
        let registered = try await store.passkeys(of: approver.name).map(\.id)
        return try Self.json(["challenge": WebAuthn.base64url(challenge), "rp_id": origin.rpID, "user": approver.name,
                              "user_id": WebAuthn.base64url(Array(SHA256.hash(data: Array(approver.name.utf8)))),
                              "registered": registered])
    }

    struct Registration: Decodable {
        var credential_id: String
        var public_key: String
        var authenticator_data: String
        var client_data_json: String
    }

    /// `POST /v1/passkeys`: the browser's new credential. Checked: the client data is a
    /// registration of our challenge at our origin; the authenticator data is for our relying
    /// party, with the user present and verified, and names this credential and this key.
    /// Prints the allowed_signers line an administrator adds for it to count.
    func registerPasskey(_ request: Request) async throws -> Response {
        let what = "POST /v1/passkeys"
        let approver = try await caller(request, allowed: [.approver], for: what)
        let bytes = try await body(request, what)
        guard let sent = try? JSONDecoder().decode(Registration.self, from: Data(bytes)),
              let credentialID = WebAuthn.base64urlDecode(sent.credential_id), !credentialID.isEmpty,
              let spki = WebAuthn.base64urlDecode(sent.public_key),
              let authenticatorData = WebAuthn.base64urlDecode(sent.authenticator_data),
              let clientDataJSON = WebAuthn.base64urlDecode(sent.client_data_json) else {
            throw HTTPError(.badRequest, message: "\(what): the body is not {credential_id, public_key, authenticator_data, client_data_json}, each base64url")
        }
        guard let clientData = try? JSONSerialization.jsonObject(with: Data(clientDataJSON)) as? [String: Any],
              clientData["type"] as? String == "webauthn.create",
              let challenge = (clientData["challenge"] as? String).flatMap(WebAuthn.base64urlDecode),
              challenges.take(challenge, for: approver.name) else {
            throw HTTPError(.badRequest, message: "\(what): the client data is not a registration of the challenge this service gave \(approver.name) (ask again: a challenge is good once, for 5 minutes)")
        }
        guard clientData["origin"] as? String == origin.value else {
            throw HTTPError(.badRequest, message: "\(what): registered at \(clientData["origin"] as? String ?? "no origin"), not at \(origin.value)")
        }
        let publicKey: SSHPublicKey
        let point: [UInt8]
        do {
            publicKey = try WebAuthn.publicKey(spki: spki, rpID: origin.rpID, comment: "\(approver.name)@\(origin.rpID)")
            point = Array(try P256.Signing.PublicKey(derRepresentation: spki).x963Representation)
        } catch {
            throw HTTPError(.badRequest, message: "\(what): \(error)")
        }
        if let problem = Self.registrationProblem(authenticatorData, credentialID: credentialID, point: point, rpID: origin.rpID) {
            throw HTTPError(.badRequest, message: "\(what): the authenticator data \(problem)")
        }
        let id = WebAuthn.base64url(credentialID)
        try await refusingConflicts(what) {
            try await store.addPasskey(.init(id: id, approver: approver.name, publicKey: publicKey))
        }
        logger.info("passkey \(id) registered by \(approver.name): \(publicKey.fingerprint)")
        return try Self.json(["credential_id": id, "fingerprint": publicKey.fingerprint,
                              "allowed_signers": "\(approver.name) namespaces=\"airlock\" \(publicKey)"])
    }

    /// What is wrong with a registration's authenticator data (WebAuthn §6.1: rpIdHash, flags,
    /// counter, then the attested credential data: AAGUID, id length, id, COSE key), or nil.
    static func registrationProblem(_ data: [UInt8], credentialID: [UInt8], point: [UInt8], rpID: String) -> String? {
        guard point.count == 65 else { return "comes with a key that is not an uncompressed P-256 point" }
        guard data.count >= 55 else { return "is \(data.count) bytes, too short to hold a credential" }
        guard data[0..<32].elementsEqual(SHA256.hash(data: Array(rpID.utf8))) else { return "is for another relying party than \(rpID)" }
        let flags = data[32]
        guard flags & 0x01 != 0, flags & 0x04 != 0 else { return "says the user was not present and verified (flags \(flags))" }
        guard flags & 0x40 != 0 else { return "holds no credential (flag AT clear)" }
        let length = Int(data[53]) << 8 | Int(data[54])
        guard data.count >= 55 + length, data[55..<55 + length].elementsEqual(credentialID) else {
            return "names another credential id than the one sent"
        }
        // The key the browser gave (its SubjectPublicKeyInfo form) must be the one attested: the
        // COSE key after the id holds its x and y as 32-byte byte strings under labels -2 and -3
        // (CBOR 0x21 and 0x22, then 0x58 0x20).
        let cose = Array(data[(55 + length)...])
        for (label, coordinate) in [(UInt8(0x21), point[1..<33]), (UInt8(0x22), point[33..<65])] {
            let field = [label, 0x58, 0x20] + coordinate
            guard cose.count >= field.count, (0...(cose.count - field.count)).contains(where: { cose[$0..<$0 + field.count].elementsEqual(field) }) else {
                return "attests another key than the public key sent"
            }
        }
        return nil
    }
}
