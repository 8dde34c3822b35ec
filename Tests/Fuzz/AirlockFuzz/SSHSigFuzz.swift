import AirlockSignOff
import Foundation

/// SSH signatures and approvers files. Every input is tried as armored SSHSIG text, as a raw
/// SSHSIG blob, as an allowed_signers file and, line by line, as public keys; whatever parses must
/// print back to what parses to the same value.
enum SSHSigFuzz {
    static let message = Array("airlock fuzz message".utf8)
    static let date = Date(timeIntervalSince1970: 1_795_694_400)

    static func run(_ data: [UInt8]) -> [String] {
        var broken: [String] = []
        let text = String(decoding: data, as: UTF8.self)

        if let signature = try? SSHSignature.parse(armored: text) {
            broken += roundTrip(signature, "armored")
        }
        if let signature = try? SSHSignature.parse(blob: data) {
            broken += roundTrip(signature, "blob")
        }
        if data.count > 4, !data.starts(with: Array("SSHS".utf8)),
           let signature = try? SSHSignature.parse(blob: Array("SSHSIG".utf8) + data) {
            // Lets mutations of the body reach past the magic without finding it first.
            broken += roundTrip(signature, "blob after magic")
        }

        if let signers = try? AllowedSigners(text: text, file: "fuzz") {
            for entry in signers.entries {
                _ = signers.principals(for: entry.key, namespace: "airlock", at: date)
                _ = signers.principals(for: entry.key, namespace: "git", at: entry.validAfter ?? date)
                if entry.principals.isEmpty { broken.append("allowed_signers entry on line \(entry.line) has no principals") }
                _ = signers.principals(forFingerprint: entry.key.fingerprint, namespace: entry.namespaces ?? "airlock",
                                       at: entry.validAfter ?? entry.validBefore ?? date)
            }
        }
        for line in text.split(separator: "\n").prefix(8) {
            if let key = try? SSHPublicKey(line: String(line)) {
                guard let again = try? SSHPublicKey(blob: key.blob) else {
                    broken.append("a public key read from a line does not read back from its blob")
                    continue
                }
                if again != key || again.fingerprint != key.fingerprint { broken.append("public key blob round trip changes the key") }
            }
        }
        return broken
    }

    static func roundTrip(_ signature: SSHSignature, _ form: String) -> [String] {
        var broken: [String] = []
        // Verifying must answer (throw or not), never crash, whatever the key and signature hold.
        _ = try? signature.verify(message: message)
        _ = try? signature.verify(message: message, namespace: signature.namespace)
        do {
            let again = try SSHSignature.parse(blob: signature.blob)
            if again != signature { broken.append("\(form): blob round trip changes the signature") }
        } catch {
            broken.append("\(form): the blob of a parsed signature does not parse: \(error)")
        }
        do {
            let again = try SSHSignature.parse(armored: signature.armored)
            if again != signature { broken.append("\(form): armored round trip changes the signature") }
        } catch {
            broken.append("\(form): the armored text of a parsed signature does not parse: \(error)")
        }
        return broken
    }
}
