import AirlockSignOff
import Crypto
import Foundation

/// A fresh directory under /tmp, removed when the value is dropped.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init() throws {
        var template = Array("/tmp/airlock-signoff-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion; returns its standard output, throws with its stderr on failure.
@discardableResult
func run(_ executable: String, _ arguments: [String], stdin: [UInt8] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let input = Pipe(), output = Pipe(), errors = Pipe()
    try input.fileHandleForWriting.write(contentsOf: Data(stdin))
    try input.fileHandleForWriting.close()
    process.standardInput = input.fileHandleForReading
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: err, as: UTF8.self))")
    }
    return String(decoding: out, as: UTF8.self)
}

/// A real key pair made by ssh-keygen; the private key lives only in the temporary directory.
struct TestKey {
    let privateKeyFile: String
    let publicKeyLine: String
    let publicKey: SSHPublicKey

    init(in directory: TemporaryDirectory, name: String, type: String = "ed25519") throws {
        privateKeyFile = directory.file(name)
        var arguments = ["-q", "-t", type, "-N", "", "-C", "\(name)@example.org", "-f", privateKeyFile]
        if type == "ecdsa" { arguments += ["-b", "256"] }
        try run("/usr/bin/ssh-keygen", arguments)
        publicKeyLine = try String(contentsOfFile: privateKeyFile + ".pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        publicKey = try SSHPublicKey(line: publicKeyLine)
    }

    /// An allowed_signers line for this key.
    func allowedSignersLine(principal: String, options: String? = nil) -> String {
        [principal, options, publicKeyLine].compactMap { $0 }.joined(separator: " ")
    }
}

/// An operation with plausible values; tests change what they are about.
func sampleOperation(path: String = "/work/project/.git", expires: Date = Date().addingTimeInterval(900)) -> HeldOperation {
    HeldOperation(kind: .delete, paths: [Array(path.utf8)], cwd: Array("/work/project".utf8),
                  exe: "/usr/bin/rm dev=2049 ino=1234", sandbox: "sbx-1", rule: "protect.git", expires: expires)
}

/// An Ed25519 approver whose signatures are made in-process, so a big queue is quick to build.
struct SoftwareApprover {
    let key = Curve25519.Signing.PrivateKey()
    var publicKey: SSHPublicKey {
        try! SSHPublicKey(blob: Self.string(Array("ssh-ed25519".utf8)) + Self.string(Array(key.publicKey.rawRepresentation)))
    }

    func sign(_ decision: Decision, on request: Request) throws -> SignedDecision {
        let statement = try request.statement(decision, sigExpires: request.operation.expires)
        let data = SSHSignature.signedData(message: statement.message, namespace: "airlock", hashAlgorithm: .sha512)
        let raw = Array(try key.signature(for: data))
        let signature = SSHSignature(publicKey: publicKey, namespace: "airlock", hashAlgorithm: .sha512,
                                     signature: Self.string(Array("ssh-ed25519".utf8)) + Self.string(raw))
        return SignedDecision(id: request.id, digest: request.digest, decision: decision, signer: publicKey.fingerprint,
                              principal: nil, reason: "ok", sigExpires: request.operation.expires, signature: signature.armored)
    }

    static func string(_ bytes: [UInt8]) -> [UInt8] {
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }
}

/// A passkey made in software: what a browser's authenticator returns for an assertion (WebAuthn
/// §6.1, §7.2), built by hand so each field can be set wrong on purpose. `rpID` is the relying
/// party (the key's application), `origin` where the page ran.
struct SoftwarePasskey {
    let key = P256.Signing.PrivateKey()
    var rpID = "approve.example.com"
    var origin = "https://approve.example.com"

    var publicKey: SSHPublicKey { try! WebAuthn.publicKey(spki: Array(key.publicKey.derRepresentation), rpID: rpID) }

    func allowedSignersLine(principal: String, options: String? = nil) -> String {
        [principal, options ?? "namespaces=\"airlock\"", publicKey.description].compactMap { $0 }.joined(separator: " ")
    }

    /// The SSHSIG of an assertion over `message`. `clientOrigin` and `type` change what the
    /// clientDataJSON says; `challenge` what the browser was asked to sign.
    func sign(_ message: [UInt8], flags: UInt8 = 0x05, counter: UInt32 = 1, clientOrigin: String? = nil,
              type: String = "webauthn.get", challenge: [UInt8]? = nil) throws -> SSHSignature {
        let challenge = WebAuthn.base64url(challenge ?? WebAuthn.challenge(for: message))
        let clientData = Array("{\"type\":\"\(type)\",\"challenge\":\"\(challenge)\",\"origin\":\"\(clientOrigin ?? origin)\",\"crossOrigin\":false}".utf8)
        let authenticatorData = Array(SHA256.hash(data: Array(rpID.utf8))) + [flags]
            + [UInt8(counter >> 24), UInt8(counter >> 16 & 0xFF), UInt8(counter >> 8 & 0xFF), UInt8(counter & 0xFF)]
        let der = try key.signature(for: authenticatorData + Array(SHA256.hash(data: clientData))).derRepresentation
        return try WebAuthn.signature(key: publicKey, authenticatorData: authenticatorData, clientDataJSON: clientData,
                                      derSignature: Array(der), origin: origin)
    }

    /// A signed decision on `request`, as the service stores a browser's approval.
    func sign(_ decision: Decision, on request: Request, counter: UInt32) throws -> SignedDecision {
        let statement = try request.statement(decision, sigExpires: request.operation.expires)
        let signature = try sign(statement.message, counter: counter)
        return SignedDecision(id: request.id, digest: request.digest, decision: decision, signer: publicKey.fingerprint,
                              principal: nil, reason: "in the page", sigExpires: request.operation.expires, signature: signature.armored)
    }
}
