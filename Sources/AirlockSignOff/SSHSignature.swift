import Crypto
import Foundation

/// An SSH signature in OpenSSH's SSHSIG format (PROTOCOL.sshsig), as `ssh-keygen -Y sign` makes.
///
/// The signature is over a wrapper of the message, not the message itself:
///
///     "SSHSIG" || string(namespace) || string(reserved) || string(hash_algorithm) || string(H(message))
///
/// so a signature made for one namespace (git, file, email) can never be taken for an Airlock
/// decision, which must use the namespace `airlock`.
public struct SSHSignature: Equatable, Sendable {
    public enum HashAlgorithm: String, Sendable {
        case sha256, sha512

        func hash(_ message: [UInt8]) -> [UInt8] {
            switch self {
            case .sha256: Array(SHA256.hash(data: message))
            case .sha512: Array(SHA512.hash(data: message))
            }
        }
    }

    /// The namespace every Airlock decision is signed in.
    public static let airlockNamespace = "airlock"

    static let magic = Array("SSHSIG".utf8)
    static let armorBegin = "-----BEGIN SSH SIGNATURE-----"
    static let armorEnd = "-----END SSH SIGNATURE-----"
    private static let armorBeginBytes = Array(armorBegin.utf8)
    private static let armorEndBytes = Array(armorEnd.utf8)
    /// Far above any real signature (an Ed25519 one is about 300 bytes armored); bounds the work a
    /// hostile queue line can cause.
    static let maximumArmoredLength = 16 * 1024

    public let publicKey: SSHPublicKey
    public let namespace: String
    public let reserved: [UInt8]
    public let hashAlgorithm: HashAlgorithm
    /// The inner SSH signature blob: `string type, string bytes` (and flags, counter for FIDO keys).
    public let signature: [UInt8]

    public init(publicKey: SSHPublicKey, namespace: String, reserved: [UInt8] = [],
                hashAlgorithm: HashAlgorithm, signature: [UInt8]) {
        self.publicKey = publicKey
        self.namespace = namespace
        self.reserved = reserved
        self.hashAlgorithm = hashAlgorithm
        self.signature = signature
    }

    /// Reads the armored text form, `-----BEGIN SSH SIGNATURE-----`, base64 lines, `-----END …`.
    /// Throws `malformedSignature` (or `unsupportedAlgorithm` for keys Airlock cannot verify).
    public static func parse(armored: String) throws -> SSHSignature {
        guard armored.utf8.count <= maximumArmoredLength else {
            throw SignOffError(.malformedSignature, "signature text is longer than \(maximumArmoredLength) bytes")
        }
        // One pass over the bytes (a replay reads tens of thousands of these): the first non-blank
        // line must be the BEGIN marker and the last the END marker; the lines between are the
        // base64 body. Blanks and a CR around a line are ignored, as are blank lines.
        let text = Array(armored.utf8)
        var lines = 0
        var body: [UInt8] = []
        var lastLine: Range<Int> = 0..<0  // within body
        var start = 0
        while start < text.count {
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
            var line = text[start..<end]
            start = end + 1
            while let first = line.first, first == 0x20 || first == 0x09 || first == 0x0D { line = line.dropFirst() }
            while let last = line.last, last == 0x20 || last == 0x09 || last == 0x0D { line = line.dropLast() }
            if line.isEmpty { continue }
            lines += 1
            if lines == 1 {
                guard line.elementsEqual(armorBeginBytes) else { break }
                continue
            }
            lastLine = body.count..<body.count + line.count
            body += line
        }
        guard lines >= 3, body[lastLine].elementsEqual(armorEndBytes) else {
            throw SignOffError(.malformedSignature, "expected the \(armorBegin) … \(armorEnd) armor")
        }
        body.removeSubrange(lastLine)
        guard let blob = Base64.decode(body) else {
            throw SignOffError(.malformedSignature, "signature body is not valid base64")
        }
        return try parse(blob: blob)
    }

    /// Reads the binary SSHSIG blob (the base64-decoded armor body).
    public static func parse(blob: [UInt8]) throws -> SSHSignature {
        var reader = SSHWireReader(blob, context: "SSH signature")
        guard try reader.readBytes(magic.count, "magic") == magic else {
            throw reader.malformed("does not start with SSHSIG")
        }
        let version = try reader.readUInt32("version")
        guard version == 1 else { throw reader.malformed("version \(version) is not supported (only 1)") }
        let publicKey = try SSHPublicKey(blob: try reader.readString("public key"))
        let namespace = try reader.readText("namespace")
        let reserved = try reader.readString("reserved")
        let hashName = try reader.readText("hash algorithm")
        guard let hashAlgorithm = HashAlgorithm(rawValue: hashName) else {
            throw reader.malformed("hash algorithm \(hashName.debugDescription) is not sha256 or sha512")
        }
        let signature = try reader.readString("signature")
        try reader.expectEnd()
        return SSHSignature(publicKey: publicKey, namespace: namespace, reserved: reserved,
                            hashAlgorithm: hashAlgorithm, signature: signature)
    }

    /// The binary SSHSIG blob.
    public var blob: [UInt8] {
        var writer = SSHWireWriter()
        writer.write(raw: Self.magic)
        writer.write(uint32: 1)
        writer.write(string: publicKey.blob)
        writer.write(text: namespace)
        writer.write(string: reserved)
        writer.write(text: hashAlgorithm.rawValue)
        writer.write(string: signature)
        return writer.bytes
    }

    /// The armored text form, wrapped at 70 columns as ssh-keygen does.
    public var armored: String {
        let body = Base64.encode(blob)
        var lines = [Self.armorBegin]
        var rest = Substring(body)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(70)))
            rest = rest.dropFirst(70)
        }
        lines.append(Self.armorEnd)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The bytes the key actually signs for `message` in `namespace`.
    public static func signedData(message: [UInt8], namespace: String, reserved: [UInt8] = [],
                                  hashAlgorithm: HashAlgorithm) -> [UInt8] {
        var writer = SSHWireWriter()
        writer.write(raw: magic)
        writer.write(text: namespace)
        writer.write(string: reserved)
        writer.write(text: hashAlgorithm.rawValue)
        writer.write(string: hashAlgorithm.hash(message))
        return writer.bytes
    }

    /// Checks that this is `publicKey`'s signature over `message` in `namespace`.
    /// Throws `namespaceMismatch` or `badSignature`; returns normally only when it verifies.
    public func verify(message: [UInt8], namespace expected: String = airlockNamespace) throws {
        guard namespace == expected else {
            throw SignOffError(.namespaceMismatch, "signature is for namespace \(namespace.debugDescription), not \(expected.debugDescription)")
        }
        let data = Self.signedData(message: message, namespace: namespace, reserved: reserved,
                                   hashAlgorithm: hashAlgorithm)
        guard publicKey.isValidSignature(signature, for: data) else {
            throw SignOffError(.badSignature, "signature by \(publicKey.fingerprint) does not verify over this message")
        }
    }
}
