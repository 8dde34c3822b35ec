import Crypto
import Foundation

/// An OpenSSH public key of a kind Airlock can verify signatures from.
///
/// Keys are compared by their wire blob, which is what OpenSSH compares too; the comment of the
/// `ssh-ed25519 AAAA… comment` form is kept for display only.
public struct SSHPublicKey: Hashable, Sendable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, CaseIterable {
        case ed25519 = "ssh-ed25519"
        /// Ed25519 on a FIDO authenticator (`ssh-keygen -t ed25519-sk`).
        case ed25519SK = "sk-ssh-ed25519@openssh.com"
        case ecdsaP256 = "ecdsa-sha2-nistp256"
        /// ECDSA P-256 on a FIDO authenticator (`ssh-keygen -t ecdsa-sk`).
        case ecdsaP256SK = "sk-ecdsa-sha2-nistp256@openssh.com"
    }

    public let algorithm: Algorithm
    /// The key in SSH wire format, as in the base64 part of an `authorized_keys` line.
    public let blob: [UInt8]
    /// For FIDO keys, the application string (usually `ssh:`); nil otherwise.
    public let application: String?
    /// The comment after the key in its text form, if it was read from one.
    public let comment: String?
    /// The raw Ed25519 key (32 bytes) or the uncompressed P-256 point, checked when the key is read.
    private let keyBytes: [UInt8]

    public static func == (a: SSHPublicKey, b: SSHPublicKey) -> Bool { a.blob == b.blob }
    public func hash(into hasher: inout Hasher) { hasher.combine(blob) }

    /// Reads a key from its SSH wire blob. Throws `malformedKey` or `unsupportedAlgorithm`.
    public init(blob: [UInt8], comment: String? = nil) throws {
        var reader = SSHWireReader(blob, context: "public key")
        let type = try reader.readText("key type")
        guard let algorithm = Algorithm(rawValue: type) else {
            throw SignOffError(.unsupportedAlgorithm, "public key type \(type.debugDescription) is not supported (use ssh-ed25519, ecdsa-sha2-nistp256 or their -sk forms)")
        }
        switch algorithm {
        case .ed25519, .ed25519SK:
            let raw = try reader.readString("ed25519 key")
            guard raw.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else {
                throw reader.malformed("ed25519 key must be 32 bytes, is \(raw.count)")
            }
            keyBytes = raw
        case .ecdsaP256, .ecdsaP256SK:
            let curve = try reader.readText("curve name")
            guard curve == "nistp256" else { throw reader.malformed("curve \(curve.debugDescription) does not match \(type)") }
            let point = try reader.readString("ecdsa point")
            guard (try? P256.Signing.PublicKey(x963Representation: point)) != nil else {
                throw reader.malformed("ecdsa point is not a valid uncompressed P-256 point")
            }
            keyBytes = point
        }
        switch algorithm {
        case .ed25519SK, .ecdsaP256SK: application = try reader.readText("application")
        case .ed25519, .ecdsaP256: application = nil
        }
        try reader.expectEnd()
        self.algorithm = algorithm
        self.blob = blob
        self.comment = comment
    }

    /// Reads the one-line text form `keytype base64 [comment]` (a `.pub` file or an
    /// `authorized_keys` entry without options). The key type must match the blob's.
    public init(line: String) throws {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count >= 2 else {
            throw SignOffError(.malformedKey, "expected \"keytype base64 [comment]\", got \(fields.count) field(s)")
        }
        try self.init(type: fields[0], base64: fields[1],
                      comment: fields.count > 2 ? fields[2...].joined(separator: " ") : nil)
    }

    /// Reads a key given as its two fields, type and base64 blob, as in allowed_signers.
    public init(type: String, base64: String, comment: String? = nil) throws {
        guard let blob = Base64.decode(base64.utf8) else {
            throw SignOffError(.malformedKey, "the key is not valid base64")
        }
        try self.init(blob: blob, comment: comment)
        guard algorithm.rawValue == type else {
            throw SignOffError(.malformedKey, "key type \(type.debugDescription) does not match the key's own type \(algorithm.rawValue)")
        }
    }

    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it.
    public var fingerprint: String {
        "SHA256:" + Base64.encode(Array(SHA256.hash(data: blob)), padding: false)
    }

    /// The one-line text form, `keytype base64 [comment]`.
    public var description: String {
        let base = "\(algorithm.rawValue) \(Base64.encode(blob))"
        return comment.map { "\(base) \($0)" } ?? base
    }

    /// Whether `signature` (an SSH signature blob: `string type, string bytes`, plus flags and a
    /// counter for FIDO keys) is this key's signature over `data`.
    ///
    /// FIDO signatures must carry the user-presence flag: a signature made without a touch does
    /// not count as a human's approval. WebAuthn signatures (`WebAuthn`) must also carry user
    /// verification and come from the key's own origin.
    public func isValidSignature(_ signature: [UInt8], for data: [UInt8]) -> Bool {
        (try? verifies(signature, for: data)) ?? false
    }

    /// Throws when the signature blob is malformed, returns false when it is well formed but wrong.
    private func verifies(_ signature: [UInt8], for data: [UInt8]) throws -> Bool {
        var reader = SSHWireReader(signature, context: "signature")
        let type = try reader.readText("signature type")
        if type == WebAuthn.signatureType, algorithm == .ecdsaP256SK, let application {
            return try WebAuthn.verifies(&reader, key: try P256.Signing.PublicKey(x963Representation: keyBytes),
                                         application: application, data: data)
        }
        guard type == algorithm.rawValue else { return false }
        let bytes = try reader.readString("signature bytes")
        var signed = data
        if let application {
            let flags = try reader.readByte("flags")
            let counter = try reader.readUInt32("counter")
            guard flags & 0x01 != 0 else { return false }  // no user presence
            var writer = SSHWireWriter()
            writer.write(raw: Array(SHA256.hash(data: Array(application.utf8))))
            writer.write(byte: flags)
            writer.write(uint32: counter)
            writer.write(raw: Array(SHA256.hash(data: data)))
            signed = writer.bytes
        }
        try reader.expectEnd()
        switch algorithm {
        case .ed25519, .ed25519SK:
            let key = try Curve25519.Signing.PublicKey(rawRepresentation: keyBytes)
            return bytes.count == 64 && key.isValidSignature(bytes, for: signed)
        case .ecdsaP256, .ecdsaP256SK:
            let key = try P256.Signing.PublicKey(x963Representation: keyBytes)
            let ecdsa = try P256.Signing.ECDSASignature(rawRepresentation: Self.rawECDSASignature(bytes))
            return key.isValidSignature(ecdsa, for: signed)
        }
    }

    /// Turns SSH's `mpint r, mpint s` into the fixed-width `r || s` swift-crypto expects.
    static func rawECDSASignature(_ blob: [UInt8]) throws -> [UInt8] {
        var reader = SSHWireReader(blob, context: "signature")
        var raw: [UInt8] = []
        for name in ["r", "s"] {
            var value = try reader.readString(name)
            // An mpint is two's complement: a positive value has no high bit, or a 0x00 before it.
            guard let first = value.first, first & 0x80 == 0 else { throw reader.malformed("\(name) is empty or negative") }
            if first == 0 { value.removeFirst() }
            guard value.count <= 32 else { throw reader.malformed("\(name) is longer than 32 bytes") }
            raw += [UInt8](repeating: 0, count: 32 - value.count) + value
        }
        try reader.expectEnd()
        return raw
    }
}
