import AirlockSignOff
import Crypto
import Foundation
import Testing

/// Browser approvals stored as `webauthn-sk-ecdsa-sha2-nistp256@openssh.com` SSHSIGs, with stock
/// `ssh-keygen -Y verify` as the independent judge of the format, and Airlock's own stricter checks
/// (user presence and verification, origin) shown to refuse what ssh-keygen alone lets through.
@Suite struct WebAuthnTests {
    let directory: TemporaryDirectory
    let passkey = SoftwarePasskey()
    let message = Array("airlock-decision-v1\n\(String(repeating: "ab", count: 32))\napprove\n2026-12-04T10:00:00Z\nr-1\n".utf8)

    init() throws { directory = try TemporaryDirectory() }

    /// Runs `ssh-keygen -Y verify` on `signature` against the passkey's allowed_signers line with
    /// `options`; true when it accepts.
    func sshKeygenAccepts(_ signature: SSHSignature, options: String = "namespaces=\"airlock\"") throws -> Bool {
        let signers = directory.file("allowed_signers"), file = directory.file("decision.sig")
        try passkey.allowedSignersLine(principal: "alice", options: options).write(toFile: signers, atomically: true, encoding: .utf8)
        try signature.armored.write(toFile: file, atomically: true, encoding: .utf8)
        return (try? run("/usr/bin/ssh-keygen", ["-Y", "verify", "-f", signers, "-I", "alice", "-n", "airlock", "-s", file],
                         stdin: message)) != nil
    }

    func airlockAccepts(_ signature: SSHSignature) throws -> Bool {
        (try? SSHSignature.parse(armored: signature.armored).verify(message: message)) != nil
    }

    @Test func anAssertionIsAnSSHSIGThatSshKeygenAndAirlockAccept() throws {
        let signature = try passkey.sign(message)
        #expect(signature.publicKey.algorithm == .ecdsaP256SK)
        #expect(signature.publicKey.application == "approve.example.com")
        #expect(signature.authenticatorCounter == 1)
        #expect(try sshKeygenAccepts(signature))
        #expect(try airlockAccepts(signature))
        // The oracle can fail: the same signature over another message is refused by both.
        var other = message
        other[0] ^= 1
        #expect(throws: SignOffError.self) { try signature.verify(message: other) }
    }

    @Test func withoutUserPresenceItCountsForNothingThoughSshKeygenAccepts() throws {
        // `ssh-keygen -Y verify` does not look at the flags (no-touch-required is sshd's, for
        // authorized_keys): presence is Airlock's own check.
        let signature = try passkey.sign(message, flags: 0x04)
        #expect(try sshKeygenAccepts(signature))
        #expect(try !airlockAccepts(signature))
    }

    @Test func withoutUserVerificationItCountsForNothingThoughSshKeygenAccepts() throws {
        let signature = try passkey.sign(message, flags: 0x01)
        #expect(try sshKeygenAccepts(signature))
        #expect(try !airlockAccepts(signature))
    }

    @Test func anAssertionMadeAtAnotherOriginCountsForNothingThoughSshKeygenAccepts() throws {
        // A page elsewhere that got the same credential's assertion (the authenticator signed the
        // right relying party's hash; only the client data says where it ran).
        var elsewhere = passkey
        elsewhere.origin = "https://approve.example.com.evil.example"
        let signature = try elsewhere.sign(message)
        #expect(try sshKeygenAccepts(signature))
        #expect(try !airlockAccepts(signature))
        // http is refused for anything but localhost, and the origin in the blob must be the one
        // the client data names.
        elsewhere.origin = "http://approve.example.com"
        #expect(try !airlockAccepts(try elsewhere.sign(message)))
        #expect(try !airlockAccepts(try passkey.sign(message, clientOrigin: "https://other.example")))
        #expect(try !sshKeygenAccepts(try passkey.sign(message, clientOrigin: "https://other.example")))
    }

    @Test func aRegistrationOrAnotherChallengeCountsForNothing() throws {
        let create = try passkey.sign(message, type: "webauthn.create")
        #expect(try !airlockAccepts(create))
        #expect(try !sshKeygenAccepts(create))
        let other = try passkey.sign(message, challenge: WebAuthn.challenge(for: Array("something else".utf8)))
        #expect(try !airlockAccepts(other))
        #expect(try !sshKeygenAccepts(other))
    }

    @Test func localhostIsAnOriginOnlyForALocalhostKey() throws {
        var local = SoftwarePasskey()
        local.rpID = "localhost"
        local.origin = "http://localhost:8443"
        #expect(try airlockAccepts(try local.sign(message)))
        local.origin = "http://localhost:84a3"
        #expect(try !airlockAccepts(try local.sign(message)))
    }

    @Test func base64urlRoundTrips() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = WebAuthn.base64url(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(WebAuthn.base64urlDecode(text) == bytes)
        }
        #expect(WebAuthn.base64urlDecode("a") == nil)
    }
}
