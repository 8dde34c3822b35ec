@preconcurrency import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// Airlock's certificate authority for TLS inspection: made once per installation and per set of
/// inspected domains, kept in Airlock's state directory (hidden from the agent), and limited by
/// critical name constraints to those domains, so that its key, were it ever to leak, could not
/// impersonate any other site. Every IPv4 and IPv6 address is excluded too: constraints on DNS
/// names alone would leave certificates for addresses unbound.
public struct InspectionCA: Sendable {
    public let certificate: Certificate
    public let certificatePEM: String
    let key: P256.Signing.PrivateKey
    /// The DNS names the CA may issue for (each with the names under it).
    public let domains: [String]
    /// The directory holding `ca.pem` and `ca-key.pem`.
    public let directory: String

    /// The CA for `domains` under `stateDirectory` (`…/airlock/ca/<digest of the domains>/`),
    /// made on first use. Concurrent first uses agree on one CA: each builds it in a directory of
    /// its own and renames it into place; the loser loads the winner's.
    public static func loadOrCreate(domains: [String], stateDirectory: String) throws -> InspectionCA {
        let domains = Array(Set(domains)).sorted()
        guard !domains.isEmpty else { throw InspectionCAError("no domains to inspect") }
        let digest = SHA256.hash(data: Data(domains.joined(separator: "\n").utf8))
        let name = digest.prefix(8).map { String(format: "%02x", $0) }.joined()
        let parent = stateDirectory + "/ca"
        let directory = parent + "/" + name
        try makePrivateDirectory(stateDirectory)
        try makePrivateDirectory(parent)
        if !FileManager.default.fileExists(atPath: directory) {
            let building = parent + "/.building-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try makePrivateDirectory(building)
            do {
                let made = try make(domains: domains)
                try write(made.key.pemRepresentation, to: building + "/ca-key.pem")
                try write(made.certificatePEM, to: building + "/ca.pem")
                if rename(building, directory) != 0 {
                    let error = errno
                    try? FileManager.default.removeItem(atPath: building)
                    guard error == EEXIST || error == ENOTEMPTY else {
                        throw InspectionCAError("\(directory): \(String(cString: strerror(error)))")
                    }
                }
            } catch {
                try? FileManager.default.removeItem(atPath: building)
                throw error
            }
        }
        return try load(directory: directory, domains: domains)
    }

    /// Loads and checks a CA: the key must be the certificate's and private to this user, and the
    /// certificate's constraints must be exactly `domains`.
    static func load(directory: String, domains: [String]) throws -> InspectionCA {
        let keyPath = directory + "/ca-key.pem"
        var info = stat()
        guard stat(keyPath, &info) == 0 else {
            throw InspectionCAError("\(keyPath): \(String(cString: strerror(errno)))")
        }
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw InspectionCAError("\(keyPath): must be owned by uid \(geteuid()) and readable by no one else (mode 0600)")
        }
        do {
            let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: keyPath, encoding: .utf8))
            let pem = try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8)
            let certificate = try Certificate(pemEncoded: pem)
            guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
                throw InspectionCAError("\(directory): ca.pem is not the certificate of ca-key.pem")
            }
            guard let constraints = try certificate.extensions.nameConstraints,
                  Array(constraints.permittedDNSDomains).sorted() == domains else {
                throw InspectionCAError("\(directory)/ca.pem: its name constraints are not \(domains)")
            }
            return InspectionCA(certificate: certificate, certificatePEM: pem, key: key, domains: domains, directory: directory)
        } catch let error as InspectionCAError {
            throw error
        } catch {
            throw InspectionCAError("\(directory): \(error)")
        }
    }

    /// A new CA (not stored).
    static func make(domains: [String]) throws -> (key: P256.Signing.PrivateKey, certificatePEM: String) {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let digest = SHA256.hash(data: Data(domains.joined(separator: "\n").utf8))
        let subject = try DistinguishedName {
            OrganizationName("Airlock")
            CommonName("Airlock inspection CA " + digest.prefix(4).map { String(format: "%02x", $0) }.joined())
        }
        let allIPv4 = ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0])
        let allIPv6 = ASN1OctetString(contentBytes: ArraySlice(repeating: 0, count: 32))
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            Critical(NameConstraints(
                permittedDNSDomains: domains, excludedDNSDomains: [],
                permittedIPRanges: [], excludedIPRanges: [allIPv4, allIPv6],
                permittedEmailAddresses: [], excludedEmailAddresses: [],
                permittedURIDomains: [], forbiddenURIDomains: []))
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key))
        return (key, try certificate.serializeAsPEM().pemString)
    }

    /// A leaf certificate for `host` (a DNS name), valid from an hour ago for two days, for `key`.
    public func issue(host: String, key: P256.Signing.PublicKey, now: Date = Date()) throws -> Certificate {
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames([.dnsName(host)])
            AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(2 * 86400),
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(host) },
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(self.key))
    }

    private static func makePrivateDirectory(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw InspectionCAError("\(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw InspectionCAError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw InspectionCAError("\(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        guard fsync(fd) == 0 else { throw InspectionCAError("\(path): \(String(cString: strerror(errno)))") }
    }
}

/// The TLS contexts of inspection: one server context per inspected host (a leaf minted by the CA
/// on first use, for one key the proxy makes at start and never writes anywhere), and one client
/// context for upstreams, verifying against the host's roots plus the profile's `upstream_ca`.
public final class InspectionTLS: Sendable {
    public let ca: InspectionCA
    private let leafKey = P256.Signing.PrivateKey()
    private let leafKeyForTLS: NIOSSLPrivateKey
    private let upstreamConfiguration: TLSConfiguration
    private let upstreamContextMade = Mutex<NIOSSLContext?>(nil)
    private let leaves = Mutex<[String: (context: NIOSSLContext, minted: Date)]>([:])

    /// - Parameter upstreamCA: PEM files of extra roots for upstream verification, read (and
    ///   refused when unreadable) here, before anything starts.
    public init(ca: InspectionCA, upstreamCA: [String]) throws {
        self.ca = ca
        leafKeyForTLS = try NIOSSLPrivateKey(bytes: Array(leafKey.pemRepresentation.utf8), format: .pem)
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        client.certificateVerification = .fullVerification
        client.trustRoots = .default
        client.applicationProtocols = ["http/1.1"]
        var extra: [NIOSSLCertificate] = []
        for path in upstreamCA {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(path)
                guard !certificates.isEmpty else { throw InspectionCAError("no certificate in it") }
                extra += certificates
            } catch {
                throw InspectionCAError("upstream_ca \(path): not a readable PEM certificate file (\(error))")
            }
        }
        if !extra.isEmpty { client.additionalTrustRoots = [.certificates(extra)] }
        upstreamConfiguration = client
    }

    /// The client context for upstreams, made at the first inspected connection: loading the
    /// host's roots costs tens of milliseconds that a sandbox which never calls a cloud API
    /// should not pay at start.
    func upstreamContext() throws -> NIOSSLContext {
        try upstreamContextMade.withLock { made in
            if let made { return made }
            let context = try NIOSSLContext(configuration: upstreamConfiguration)
            made = context
            return context
        }
    }

    /// The server context presenting a leaf for `host`, minted on first use and again once it is
    /// a day old (leaves are valid for two days).
    func serverContext(for host: String) throws -> NIOSSLContext {
        let now = Date()
        if let cached = leaves.withLock({ $0[host] }), now.timeIntervalSince(cached.minted) < 86400 {
            return cached.context
        }
        let leaf = try ca.issue(host: host, key: leafKey.publicKey, now: now)
        var der = DER.Serializer()
        try der.serialize(leaf)
        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: der.serializedBytes, format: .der))],
            privateKey: .privateKey(leafKeyForTLS))
        server.minimumTLSVersion = .tlsv12
        server.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: server)
        leaves.withLock { leaves in
            if leaves.count > 10_000 { leaves.removeAll() }
            leaves[host] = (context, now)
        }
        return context
    }

    /// Where the host's roots are, by distribution.
    static let hostRoots = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]

    /// The bundle of roots the sandbox's clients get: the host's, the profile's `upstream_ca` (a
    /// client tunnelled to such a host still needs them), and Airlock's CA.
    func bundle(roots: String?, upstreamCA: [String]) -> String {
        var text = roots ?? ""
        for path in upstreamCA {
            if let extra = try? String(contentsOfFile: path, encoding: .utf8) { text += "\n" + extra }
        }
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        return text + "# Airlock inspection CA (\(ca.domains.joined(separator: ", ")))\n" + ca.certificatePEM + "\n"
    }

    /// Writes the bundle under `directory` and returns its path. Its name is a digest of what it
    /// is made of (the CA, and the path, size and modification time of the host's roots and each
    /// `upstream_ca`), so a run whose inputs have not changed finds it made and reads nothing;
    /// a new one is written aside and renamed into place, so no sandbox sees it half-written.
    public func writeBundle(upstreamCA: [String], in directory: String) throws -> String {
        let roots = Self.hostRoots.first { FileManager.default.fileExists(atPath: $0) }
        var identity = ca.certificatePEM
        for path in (roots.map { [$0] } ?? []) + upstreamCA {
            var info = stat()
            guard stat(path, &info) == 0 else { throw InspectionCAError("\(path): \(String(cString: strerror(errno)))") }
            identity += "\n\(path) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ino)"
        }
        let digest = SHA256.hash(data: Data(identity.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        let path = directory + "/ca-bundle-\(digest).pem"
        if FileManager.default.fileExists(atPath: path) { return path }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw InspectionCAError("\(directory): \(error.localizedDescription)")
        }
        let text = bundle(roots: roots.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }, upstreamCA: upstreamCA)
        let temporary = path + ".\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o644]) else {
            throw InspectionCAError("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            throw InspectionCAError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }
}

public struct InspectionCAError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
