import AirlockSignOff
import Crypto
import Foundation

/// Queue bytes through the reader and the fold.
///
/// The fold is run against a fixed approvers file of fixed Ed25519 keys (`FuzzKeys`): seeds made
/// with `airlock-fuzz make-seeds` carry real signatures by them, so mutated queues reach every
/// branch of the fold, approvals that count included.
enum QueueFuzz {
    /// The fold's clock: after the seeds' lines (11:00), before their requests expire (13:00).
    static let now = Date(timeIntervalSince1970: 1_795_694_400)  // 2026-11-26T12:00:00Z
    static let approvers: AllowedSigners = {
        do { return try AllowedSigners(text: FuzzKeys.allowedSigners, file: "fuzz_allowed_signers") } catch {
            fatalError("airlock-fuzz: the built-in allowed_signers does not parse: \(error)")
        }
    }()

    static func run(_ data: [UInt8]) -> [String] {
        var broken = check(data, label: "as given")
        let rechained = rechain(data)
        if rechained != data { broken += check(rechained, label: "re-chained") }
        return broken
    }

    static func check(_ bytes: [UInt8], label: String) -> [String] {
        var broken: [String] = []
        func fail(_ message: String) { broken.append("\(label): \(message)") }

        let whole = QueueReader.parse(bytes)
        // Documented: reading in two pieces (the supervisor reads what was appended since) sees
        // exactly what one read sees, breaks included. Split after the middle newline.
        let newlines = bytes.indices.filter { bytes[$0] == 0x0A }
        if !newlines.isEmpty {
            let cut = newlines[newlines.count / 2] + 1
            let part1 = QueueReader.parse(Array(bytes[..<cut]))
            let part2 = QueueReader.parse(Array(bytes[part1.tail.offset...]), from: part1.tail)
            if (part1.records + part2.records).map(\.hash) != whole.records.map(\.hash)
                || (part1.records + part2.records).map(\.line) != whole.records.map(\.line) {
                fail("reading in two pieces (cut at byte \(cut)) gives other records than one read")
            }
            // The line only: after marked torn lines an incremental read names the torn line, not
            // the last committed one, in a break's reason ("prev does not match the SHA-256 of
            // line N"): Tests/Fuzz/Regressions/queue/split-after-torn-line, reported, not fixed.
            if (part1.chainBreak ?? part2.chainBreak)?.line != whole.chainBreak?.line {
                fail("reading in two pieces gives chain break \(String(describing: part1.chainBreak ?? part2.chainBreak)), one read \(String(describing: whole.chainBreak))")
            }
            if part2.tail != whole.tail { fail("reading in two pieces ends at another tail") }
        }
        if whole.tail.offset > bytes.count { fail("tail offset \(whole.tail.offset) beyond \(bytes.count) bytes") }

        let all = QueueState.fold(whole, approvers: approvers, now: now, checks: .all)
        let unsettled = QueueState.fold(whole, approvers: approvers, now: now, checks: .unsettled)
        _ = QueueState.fold(whole, approvers: nil, now: now)
        for (name, state) in [("checks .all", all), ("checks .unsettled", unsettled)] {
            if state.order.count != state.requests.count || Set(state.order) != Set(state.requests.keys) {
                fail("\(name): order and requests disagree")
            }
            for id in state.order {
                guard let request = state.requests[id] else { continue }
                let signers = request.approvals.map(\.signer)
                if Set(signers).count != signers.count { fail("\(name): request \(id) counts a key twice: \(signers)") }
                if request.state == .denied && request.denial == nil { fail("\(name): request \(id) denied without a denial") }
                guard request.state == .approved else { continue }
                // The invariant that matters: approved means quorum distinct listed keys whose
                // signatures were checked over this request, on an intact chain.
                if state.chainBreak != nil { fail("\(name): request \(id) approved although the chain is broken") }
                if Set(signers).count < request.quorum {
                    fail("\(name): request \(id) approved by \(Set(signers).count) distinct keys, quorum \(request.quorum)")
                }
                let unverified = request.approvals.filter { !$0.signatureVerified }
                if !unverified.isEmpty {
                    fail("\(name): request \(id) approved with \(unverified.count) approval(s) whose signature was never checked (signers \(unverified.map(\.signer)))")
                }
                for approval in request.approvals where approvers.principals(forFingerprint: approval.signer, namespace: "airlock", at: approval.ts).isEmpty {
                    fail("\(name): request \(id) approved by \(approval.signer), who is not an approver")
                }
            }
        }
        // Skipping the signatures of settled requests may only change settled requests.
        for (id, cheap) in unsettled.requests where cheap.state != .resolved && cheap.state != .cancelled {
            if all.requests[id]?.state != cheap.state {
                fail("request \(id) is \(cheap.state.rawValue) when settled requests' signatures are skipped, \(all.requests[id]?.state.rawValue ?? "absent") when every signature is checked")
            }
        }
        return broken
    }

    /// The bytes with every line's `"seq":N` and `"prev":"…"` rewritten to chain to the line
    /// before, as a writer would have written them. Marked torn lines (ending in 0x01) are left.
    static func rechain(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        var seq: UInt64 = 0
        var prev = String(repeating: "0", count: 64)
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
            var line = Array(bytes[start..<end])
            start = end
            let complete = line.last == 0x0A
            let torn = complete && line.count >= 2 && line[line.count - 2] == 0x01
            if !complete || torn { out += line; continue }
            seq += 1
            line = replacingNumber(after: Array(#""seq":"#.utf8), in: line, with: String(seq))
            line = replacingString(after: Array(#""prev":""#.utf8), length: 64, in: line, with: prev)
            out += line
            prev = hex(Array(SHA256.hash(data: line)))
        }
        return out
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
    }

    private static func find(_ needle: [UInt8], in line: [UInt8]) -> Int? {
        guard line.count >= needle.count else { return nil }
        return (0...(line.count - needle.count)).first { line[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    private static func replacingNumber(after key: [UInt8], in line: [UInt8], with value: String) -> [UInt8] {
        guard let at = find(key, in: line) else { return line }
        let from = at + key.count
        var to = from
        while to < line.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(line[to]) { to += 1 }
        guard to > from else { return line }
        return Array(line[..<from]) + Array(value.utf8) + Array(line[to...])
    }

    private static func replacingString(after key: [UInt8], length: Int, in line: [UInt8], with value: String) -> [UInt8] {
        guard let at = find(key, in: line), at + key.count + length <= line.count else { return line }
        let from = at + key.count
        return Array(line[..<from]) + Array(value.utf8) + Array(line[(from + length)...])
    }
}

/// Fixed Ed25519 keys for the queue fuzzer and its seeds: alice and bob are approvers for
/// namespace airlock, carol only for git, dave is not listed. Test keys only, never for real use.
public enum FuzzKeys {
    public static var alice: Curve25519.Signing.PrivateKey { key(1) }
    public static var bob: Curve25519.Signing.PrivateKey { key(2) }
    public static var carol: Curve25519.Signing.PrivateKey { key(3) }
    public static var dave: Curve25519.Signing.PrivateKey { key(4) }

    static func key(_ byte: UInt8) -> Curve25519.Signing.PrivateKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: byte, count: 32))
    }

    static func wireString(_ bytes: [UInt8]) -> [UInt8] {
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    public static func publicBlob(_ key: Curve25519.Signing.PrivateKey) -> [UInt8] {
        wireString(Array("ssh-ed25519".utf8)) + wireString(Array(key.publicKey.rawRepresentation))
    }

    public static func publicKey(_ key: Curve25519.Signing.PrivateKey) -> SSHPublicKey {
        try! SSHPublicKey(blob: publicBlob(key))
    }

    public static func publicLine(_ key: Curve25519.Signing.PrivateKey, comment: String) -> String {
        "ssh-ed25519 " + Data(publicBlob(key)).base64EncodedString() + " " + comment
    }

    public static let allowedSigners = """
        # the queue fuzzer's approvers
        alice@example.org namespaces="airlock" \(publicLine(alice, comment: "alice"))
        bob@example.org \(publicLine(bob, comment: "bob"))
        carol@example.org namespaces="git" \(publicLine(carol, comment: "carol"))
        """

    /// `decision` on `request`, signed by `key` in `namespace` as `ssh-keygen -Y sign` would.
    public static func sign(_ decision: Decision, on request: Request, by key: Curve25519.Signing.PrivateKey,
                            namespace: String = "airlock", sigExpires: Date? = nil, reason: String? = nil) throws -> SignedDecision {
        let expires = sigExpires ?? request.operation.expires
        let statement = try request.statement(decision, sigExpires: expires)
        let data = SSHSignature.signedData(message: statement.message, namespace: namespace, hashAlgorithm: .sha512)
        let raw = Array(try key.signature(for: data))
        let signature = SSHSignature(publicKey: publicKey(key), namespace: namespace, hashAlgorithm: .sha512,
                                     signature: wireString(Array("ssh-ed25519".utf8)) + wireString(raw))
        return SignedDecision(id: request.id, digest: request.digest, decision: decision, signer: publicKey(key).fingerprint,
                              principal: nil, reason: reason, sigExpires: expires, signature: signature.armored)
    }
}

/// What the queue target's fold makes of a file, for the tests: request id → state.
public enum QueueFuzzProbe {
    public static func states(_ bytes: [UInt8], everySignature: Bool = false) -> [String: String] {
        let state = QueueState.fold(QueueReader.parse(bytes), approvers: QueueFuzz.approvers, now: QueueFuzz.now,
                                    checks: everySignature ? .all : .unsettled)
        return state.requests.mapValues(\.state.rawValue)
    }
}
