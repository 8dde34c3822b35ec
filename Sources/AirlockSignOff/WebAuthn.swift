import Crypto
import Foundation

/// A WebAuthn assertion (a passkey or security key signing in the browser, docs/serve.md) kept as
/// OpenSSH's `webauthn-sk-ecdsa-sha2-nistp256@openssh.com` signature, so that stock
/// `ssh-keygen -Y verify` accepts it against the credential's `sk-ecdsa-sha2-nistp256@openssh.com`
/// key, whose application is the relying party id (the service's host name).
///
/// The signature blob: string type, string (mpint r, mpint s), byte flags, uint32 counter,
/// string origin, string clientDataJSON, string extensions. The authenticator signed
/// `SHA256(application) ‖ flags ‖ counter ‖ extensions ‖ SHA256(clientDataJSON)`, and the
/// clientDataJSON carries the SSHSIG to-be-signed blob as its challenge.
///
/// Beyond what ssh-keygen checks, Airlock requires user presence *and* user verification, an origin
/// on the key's own host, and (in the fold) a signature counter that only grows.
public enum WebAuthn {
    public static let signatureType = "webauthn-sk-ecdsa-sha2-nistp256@openssh.com"
    static let keyType = SSHPublicKey.Algorithm.ecdsaP256SK.rawValue
    static let userPresent: UInt8 = 0x01
    static let userVerified: UInt8 = 0x04
    static let attestedData: UInt8 = 0x40
    static let extensionData: UInt8 = 0x80

    /// The bytes the browser is asked to sign (its WebAuthn challenge) for `message`: SSHSIG's
    /// to-be-signed blob in namespace `airlock`.
    public static func challenge(for message: [UInt8]) -> [UInt8] {
        SSHSignature.signedData(message: message, namespace: SSHSignature.airlockNamespace, hashAlgorithm: .sha512)
    }

    /// The SSH key of a credential whose public key the browser gave as SubjectPublicKeyInfo
    /// (`AuthenticatorAttestationResponse.getPublicKey()`), registered for relying party `rpID`.
    public static func publicKey(spki: [UInt8], rpID: String, comment: String? = nil) throws -> SSHPublicKey {
        let key: P256.Signing.PublicKey
        do { key = try P256.Signing.PublicKey(derRepresentation: spki) } catch {
            throw SignOffError(.unsupportedAlgorithm, "the credential's public key is not an ECDSA P-256 key (register with ES256, COSE algorithm -7)")
        }
        var writer = SSHWireWriter()
        writer.write(text: keyType)
        writer.write(text: "nistp256")
        writer.write(string: Array(key.x963Representation))
        writer.write(text: rpID)
        return try SSHPublicKey(blob: writer.bytes, comment: comment)
    }

    /// The SSHSIG of an assertion by `key` over `message`, as the browser returned it
    /// (`authenticatorData`, `clientDataJSON`, and the DER ECDSA `signature`), made at `origin`.
    /// Only its form is checked here; `SSHSignature.verify` checks everything else.
    public static func signature(key: SSHPublicKey, authenticatorData: [UInt8], clientDataJSON: [UInt8],
                                 derSignature: [UInt8], origin: String) throws -> SSHSignature {
        guard key.algorithm == .ecdsaP256SK else {
            throw SignOffError(.unsupportedAlgorithm, "a WebAuthn assertion needs an \(keyType) key, not \(key.algorithm.rawValue)")
        }
        guard authenticatorData.count >= 37 else {
            throw SignOffError(.malformedSignature, "authenticatorData is \(authenticatorData.count) bytes, shorter than 37")
        }
        let raw: [UInt8]
        do { raw = Array(try P256.Signing.ECDSASignature(derRepresentation: derSignature).rawRepresentation) } catch {
            throw SignOffError(.malformedSignature, "the assertion's signature is not a DER ECDSA signature")
        }
        var ecdsa = SSHWireWriter()
        ecdsa.write(string: mpint(raw[0..<32]))
        ecdsa.write(string: mpint(raw[32..<64]))
        var blob = SSHWireWriter()
        blob.write(text: signatureType)
        blob.write(string: ecdsa.bytes)
        blob.write(byte: authenticatorData[32])
        blob.write(raw: authenticatorData[33..<37])
        blob.write(text: origin)
        blob.write(string: clientDataJSON)
        blob.write(string: authenticatorData[37...])
        return SSHSignature(publicKey: key, namespace: SSHSignature.airlockNamespace, hashAlgorithm: .sha512, signature: blob.bytes)
    }

    /// Unsigned big-endian bytes as an SSH mpint: no leading zeros, a zero byte before a high bit.
    static func mpint(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        let trimmed = Array(bytes.drop { $0 == 0 })
        return (trimmed.first ?? 0) & 0x80 != 0 ? [0] + trimmed : trimmed
    }

    /// base64url without padding, as WebAuthn writes challenges.
    public static func base64url(_ bytes: some Collection<UInt8>) -> String {
        String(Base64.encode(bytes, padding: false).map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Decodes base64url with or without padding; nil when it is not.
    public static func base64urlDecode(_ text: String) -> [UInt8]? {
        var standard = text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }
        while standard.count % 4 != 0 { standard.append("=") }
        return Base64.decode(Array(String(standard).utf8))
    }

    /// Whether the rest of a `webauthn-sk-ecdsa` signature blob (after its type) is `key`'s
    /// assertion over `data`, made with the user present and verified at an origin on the key's
    /// application. Throws when the blob is malformed.
    static func verifies(_ reader: inout SSHWireReader, key: P256.Signing.PublicKey, application: String,
                         data: [UInt8]) throws -> Bool {
        let ecdsa = try reader.readString("signature bytes")
        let flags = try reader.readByte("flags")
        let counter = try reader.readUInt32("counter")
        let origin = try reader.readText("origin")
        let clientData = try reader.readString("clientDataJSON")
        let extensions = try reader.readString("extensions")
        try reader.expectEnd()
        guard flags & userPresent != 0, flags & userVerified != 0, flags & attestedData == 0,
              (flags & extensionData != 0) == !extensions.isEmpty else { return false }
        guard isOrigin(origin, of: application) else { return false }
        // OpenSSH's own check, byte for byte: the members in the order browsers write them.
        let prefix = Array("{\"type\":\"webauthn.get\",\"challenge\":\"\(base64url(data))\",\"origin\":\"\(origin)\"".utf8)
        guard clientData.starts(with: prefix), clientData.count > prefix.count,
              clientData[prefix.count] == UInt8(ascii: ","), clientData.last == UInt8(ascii: "}") else { return false }
        var writer = SSHWireWriter()
        writer.write(raw: Array(SHA256.hash(data: Array(application.utf8))))
        writer.write(byte: flags)
        writer.write(uint32: counter)
        writer.write(raw: extensions)
        writer.write(raw: Array(SHA256.hash(data: clientData)))
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: SSHPublicKey.rawECDSASignature(ecdsa))
        return key.isValidSignature(signature, for: writer.bytes)
    }

    /// Whether `origin` is `https://APPLICATION[:PORT]`, or `http://localhost[:PORT]` (a secure
    /// context without TLS, for a service on loopback).
    static func isOrigin(_ origin: String, of application: String) -> Bool {
        guard !origin.contains("\""), !application.isEmpty else { return false }
        let rest: Substring
        if origin.hasPrefix("https://") { rest = origin.dropFirst(8) }
        else if origin.hasPrefix("http://"), application == "localhost" { rest = origin.dropFirst(7) }
        else { return false }
        let host = rest.prefix { $0 != ":" }
        let port = rest.dropFirst(host.count)
        return host == application && (port.isEmpty || (port.count > 1 && port.count <= 6 && port.dropFirst().allSatisfy { ("0"..."9").contains($0) }))
    }
}

extension SSHSignature {
    /// A FIDO signature's counter (sk and WebAuthn kinds), nil for other keys or a malformed blob.
    public var authenticatorCounter: UInt32? {
        guard publicKey.application != nil else { return nil }
        var reader = SSHWireReader(signature, context: "signature")
        guard (try? reader.readText("signature type")) != nil, (try? reader.readString("signature bytes")) != nil,
              (try? reader.readByte("flags")) != nil else { return nil }
        return try? reader.readUInt32("counter")
    }
}
