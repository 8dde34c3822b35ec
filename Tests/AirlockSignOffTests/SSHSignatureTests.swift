import AirlockSignOff
import Crypto
import Foundation
import Testing

@Suite struct SSHSignatureTests {
    let directory: TemporaryDirectory
    let alice: TestKey

    init() throws {
        directory = try TemporaryDirectory()
        alice = try TestKey(in: directory, name: "alice")
    }

    let message = Array("airlock-decision-v1\nsome digest\napprove\n".utf8)

    @Test func aRealSshKeygenSignatureVerifies() throws {
        let armored = try SSHSignature.sign(message: message, keyFile: alice.privateKeyFile)
        let signature = try SSHSignature.parse(armored: armored)
        #expect(signature.namespace == "airlock")
        #expect(signature.hashAlgorithm == .sha512)
        #expect(signature.publicKey == alice.publicKey)
        try signature.verify(message: message)
    }

    @Test func anEcdsaP256SignatureVerifiesToo() throws {
        let key = try TestKey(in: directory, name: "carol", type: "ecdsa")
        let signature = try SSHSignature.parse(armored: try SSHSignature.sign(message: message, keyFile: key.privateKeyFile))
        #expect(signature.publicKey.algorithm == .ecdsaP256)
        try signature.verify(message: message)
        #expect(throws: SignOffError.self) { try signature.verify(message: message + [0]) }
    }

    @Test func theFingerprintIsTheOneSshKeygenPrints() throws {
        let printed = try run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", alice.privateKeyFile + ".pub"])
        let fingerprint = printed.split(separator: " ")[1]
        #expect(alice.publicKey.fingerprint == fingerprint)
    }

    @Test func aSignatureWeMakeIsAcceptedBySshKeygenVerify() throws {
        // The other direction: our armored output and ssh-keygen's verifier agree on the format.
        let signature = try SSHSignature.parse(armored: try SSHSignature.sign(message: message, keyFile: alice.privateKeyFile))
        let signatureFile = directory.file("message.sig")
        try signature.armored.write(toFile: signatureFile, atomically: true, encoding: .utf8)
        let signers = directory.file("allowed_signers")
        try alice.allowedSignersLine(principal: "alice").write(toFile: signers, atomically: true, encoding: .utf8)
        try run("/usr/bin/ssh-keygen", ["-Y", "verify", "-f", signers, "-I", "alice", "-n", "airlock", "-s", signatureFile],
                stdin: message)
    }

    @Test func aSignatureForAnotherNamespaceIsRejected() throws {
        let messageFile = directory.file("message")
        try Data(message).write(to: URL(fileURLWithPath: messageFile))
        try run("/usr/bin/ssh-keygen", ["-Y", "sign", "-q", "-n", "git", "-f", alice.privateKeyFile, messageFile])
        let signature = try SSHSignature.parse(armored: try String(contentsOfFile: messageFile + ".sig", encoding: .utf8))
        #expect(signature.namespace == "git")
        let error = #expect(throws: SignOffError.self) { try signature.verify(message: message) }
        #expect(error?.code == .namespaceMismatch)
    }

    @Test func aTamperedMessageIsRejected() throws {
        let signature = try SSHSignature.parse(armored: try SSHSignature.sign(message: message, keyFile: alice.privateKeyFile))
        var tampered = message
        tampered[0] ^= 1
        let error = #expect(throws: SignOffError.self) { try signature.verify(message: tampered) }
        #expect(error?.code == .badSignature)
    }

    @Test func aSignatureClaimingAnotherKeyIsRejected() throws {
        // Mallory signs, then swaps Alice's public key into the SSHSIG blob.
        let mallory = try TestKey(in: directory, name: "mallory")
        let signed = try SSHSignature.parse(armored: try SSHSignature.sign(message: message, keyFile: mallory.privateKeyFile))
        let swapped = SSHSignature(publicKey: alice.publicKey, namespace: signed.namespace,
                                   hashAlgorithm: signed.hashAlgorithm, signature: signed.signature)
        let reparsed = try SSHSignature.parse(armored: swapped.armored)
        #expect(reparsed.publicKey == alice.publicKey)
        #expect(throws: SignOffError.self) { try reparsed.verify(message: message) }
    }

    @Test func signingWithAMissingKeyFileFailsWithSshKeygensMessage() throws {
        let error = #expect(throws: SignOffError.self) {
            try SSHSignature.sign(message: message, keyFile: directory.file("no-such-key"))
        }
        #expect(error?.code == .signingFailed)
        #expect(error?.message.contains("no-such-key") == true)
        #expect(error?.message.contains("No such file") == true)
    }

    @Test func truncatedSignatureBlobsThrowAtEveryLength() throws {
        let blob = try SSHSignature.parse(armored: try SSHSignature.sign(message: message, keyFile: alice.privateKeyFile)).blob
        for length in 0..<blob.count {
            #expect(throws: SignOffError.self) { try SSHSignature.parse(blob: Array(blob.prefix(length))) }
        }
        #expect(throws: SignOffError.self) { try SSHSignature.parse(blob: blob + [0]) }
        #expect(try SSHSignature.parse(blob: blob).blob == blob)
    }

    @Test func garbageNeverCrashesTheParser() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let garbage = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? SSHSignature.parse(blob: Array("SSHSIG".utf8) + garbage)
            _ = try? SSHSignature.parse(blob: garbage)
            _ = try? SSHPublicKey(blob: garbage)
        }
        // Lengths that would overflow or allocate wildly if trusted.
        let huge: [UInt8] = Array("SSHSIG".utf8) + [0, 0, 0, 1] + [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]
        #expect(throws: SignOffError.self) { try SSHSignature.parse(blob: huge) }
        for text in ["", "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----",
                     "-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----",
                     String(repeating: "A", count: 100_000)] {
            #expect(throws: SignOffError.self) { try SSHSignature.parse(armored: text) }
        }
    }

    @Test func aFidoEd25519SignatureVerifiesOnlyWithUserPresence() throws {
        // No authenticator here: build an sk-ssh-ed25519 key and signature by hand as PROTOCOL.u2f
        // describes, with a software Ed25519 key standing in for the token.
        let token = Curve25519.Signing.PrivateKey()
        func string(_ bytes: [UInt8]) -> [UInt8] {
            let n = UInt32(bytes.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
        }
        let type = Array("sk-ssh-ed25519@openssh.com".utf8)
        let application = Array("ssh:".utf8)
        let key = try SSHPublicKey(blob: string(type) + string(Array(token.publicKey.rawRepresentation)) + string(application))
        let data = SSHSignature.signedData(message: message, namespace: "airlock", hashAlgorithm: .sha512)
        func sign(flags: UInt8) throws -> SSHSignature {
            let counter: [UInt8] = [0, 0, 0, 7]
            let signed = Array(SHA256.hash(data: application)) + [flags] + counter + Array(SHA256.hash(data: data))
            let raw = Array(try token.signature(for: signed))
            return SSHSignature(publicKey: key, namespace: "airlock", hashAlgorithm: .sha512,
                                signature: string(type) + string(raw) + [flags] + counter)
        }
        try SSHSignature.parse(armored: try sign(flags: 0x01).armored).verify(message: message)
        #expect(throws: SignOffError.self) { try sign(flags: 0x00).verify(message: message) }
    }
}
