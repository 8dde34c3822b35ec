/// Which hosts the agent may reach through Airlock's egress proxy.
///
/// The profile section this is built from (the lead wires it; the shape expected):
///
/// ```toml
/// [network]
/// allow   = ["github.com", "*.github.com", "pypi.org:443", "127.0.0.1:8080", "[::1]"]
/// deny    = ["*.example"]
/// unknown = "deny"          # "allow" | "deny" | "hold"
/// ```
///
/// A rule is a host pattern with an optional port:
/// - `github.com` names that host exactly;
/// - `*.github.com` matches its subdomains only (`api.github.com`, `a.b.github.com`), not `github.com`;
/// - `*` matches any host;
/// - IP literals are hosts like any other: `127.0.0.1`, `[::1]` (brackets required with a port);
/// - `:443` after the host limits the rule to that port; without it the rule covers every port.
/// Hosts compare case-insensitively and a trailing dot is ignored (`GitHub.com.` is `github.com`).
///
/// A deny rule wins over any allow rule; a host no rule names gets `unknown`.
public struct NetworkPolicy: Sendable, Hashable {
    public var allow: [HostRule]
    public var deny: [HostRule]
    public var unknown: UnknownHostAction
    /// Hosts whose TLS the proxy terminates, to see each request in clear (`[network] inspect`).
    /// Names only (see `HostRule.inspectionProblem`): the CA's name constraints are made from them.
    public var inspect: [HostRule]

    public init(allow: [HostRule] = [], deny: [HostRule] = [], unknown: UnknownHostAction = .deny, inspect: [HostRule] = []) {
        self.allow = allow
        self.deny = deny
        self.unknown = unknown
        self.inspect = inspect
    }

    /// Builds a policy from patterns as written in a profile. Disfavored so that
    /// `NetworkPolicy(allow: [], deny: [])` means the non-throwing rule form.
    @_disfavoredOverload
    public init(allow: [String], deny: [String] = [], unknown: UnknownHostAction = .deny, inspect: [String] = []) throws(NetworkPolicyError) {
        self.init(
            allow: try allow.map { pattern throws(NetworkPolicyError) in try HostRule(pattern) },
            deny: try deny.map { pattern throws(NetworkPolicyError) in try HostRule(pattern) },
            unknown: unknown,
            inspect: try inspect.map { pattern throws(NetworkPolicyError) in try HostRule(inspecting: pattern) })
    }

    /// Whether a connection to `host` on `port` is inspected (its TLS terminated by the proxy).
    public func inspects(host: String, port: Int) -> Bool {
        let name = HostRule.normalize(host)
        return inspect.contains { $0.matches(normalizedHost: name, port: port) }
    }

    /// The DNS names the CA may issue for: each inspect rule's name or suffix, once. A name
    /// constraint `example.com` covers the name and every name under it (RFC 5280, 4.2.1.10).
    public var inspectedDomains: [String] {
        var seen = Set<String>()
        return inspect.compactMap { rule -> String? in
            let domain: String
            switch rule.host {
            case .any: return nil
            case .exact(let name): domain = name
            case .subdomains(let suffix): domain = suffix
            }
            return seen.insert(domain).inserted ? domain : nil
        }.sorted()
    }

    /// What to do with a connection to `host` on `port`, and which rule said so.
    ///
    /// Of the rules that match, the most specific is named; of the allow rules, the most specific decides (an exact name before a
    /// subdomain pattern before `*`), because only an exact name may open the host's own
    /// loopback and private addresses (see `NetworkDecision.namesHostExactly`).
    public func decide(host: String, port: Int) -> NetworkDecision {
        let name = HostRule.normalize(host)
        let denying = deny.filter { $0.matches(normalizedHost: name, port: port) }
        if let rule = denying.max(by: { $0.specificity < $1.specificity }) {
            return NetworkDecision(action: .deny, rule: rule, unknownAction: nil)
        }
        let allowing = allow.filter { $0.matches(normalizedHost: name, port: port) }
        if let rule = allowing.max(by: { $0.specificity < $1.specificity }) {
            return NetworkDecision(action: .allow, rule: rule, unknownAction: nil)
        }
        return NetworkDecision(action: unknown.action, rule: nil, unknownAction: unknown)
    }
}

/// The profile's `unknown = "allow" | "deny" | "hold"`.
public enum UnknownHostAction: String, Sendable, Hashable, CaseIterable {
    case allow, deny, hold

    var action: NetworkAction {
        switch self {
        case .allow: .allow
        case .deny: .deny
        case .hold: .hold
        }
    }
}

public enum NetworkAction: String, Sendable, Hashable {
    case allow, deny, hold
}

/// The outcome of `NetworkPolicy.decide`, with what to name in the log and in a refusal.
public struct NetworkDecision: Sendable, Hashable, CustomStringConvertible {
    public var action: NetworkAction
    /// The rule that decided; nil when no rule named the host and `unknown` decided.
    public var rule: HostRule?
    /// Set when `unknown` decided.
    public var unknownAction: UnknownHostAction?

    /// True when an allow rule names the host itself (no wildcard): the only kind of rule that
    /// lets the proxy connect to loopback, private and link-local addresses.
    public var namesHostExactly: Bool {
        action == .allow && rule?.isExactName == true
    }

    /// How the rule reads in a log line or a refusal: `deny *.example`, `allow github.com:443`,
    /// `unknown = deny`.
    public var description: String {
        if let rule { return "\(action.rawValue) \(rule.pattern)" }
        return "unknown = \(unknownAction?.rawValue ?? action.rawValue)"
    }
}

/// One host pattern with an optional port. See `NetworkPolicy` for the syntax.
public struct HostRule: Sendable, Hashable, CustomStringConvertible {
    public enum Host: Sendable, Hashable {
        /// `*`
        case any
        /// `*.suffix`: hosts ending in `.suffix`, never `suffix` itself.
        case subdomains(of: String)
        /// A name or an IP literal, normalized.
        case exact(String)
    }

    public let host: Host
    /// nil: any port.
    public let port: Int?
    /// The pattern as written, for messages.
    public let pattern: String

    public init(_ pattern: String) throws(NetworkPolicyError) {
        let text = String(pattern.trimmingSpacesAndTabs)
        guard !text.isEmpty else { throw NetworkPolicyError(pattern: pattern, message: "empty host rule") }
        var hostPart = Substring(text)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw NetworkPolicyError(pattern: pattern, message: "an IPv6 literal opened with [ is not closed with ]")
            }
            let rest = hostPart[hostPart.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    throw NetworkPolicyError(pattern: pattern, message: "after ] only :PORT may follow")
                }
                portPart = rest.dropFirst()
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if hostPart.filter({ $0 == ":" }).count == 1, let colon = hostPart.firstIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        // More than one colon without brackets: a bare IPv6 literal, which cannot carry a port.
        if let portPart {
            guard let value = Int(portPart), (1...65535).contains(value) else {
                throw NetworkPolicyError(pattern: pattern, message: "port must be a number from 1 to 65535")
            }
            self.port = value
        } else {
            self.port = nil
        }
        let name = HostRule.normalize(String(hostPart))
        guard !name.isEmpty else { throw NetworkPolicyError(pattern: pattern, message: "no host before the port") }
        if name == "*" {
            guard !hostPart.hasSuffix(".") else {
                throw NetworkPolicyError(pattern: pattern, message: "`*.` names no domain")
            }
            self.host = .any
        } else if name.hasPrefix("*.") {
            let suffix = String(name.dropFirst(2))
            guard !suffix.isEmpty, !suffix.contains("*") else {
                throw NetworkPolicyError(pattern: pattern, message: "`*` is allowed only as a whole first label (`*.example.com`) or alone")
            }
            self.host = .subdomains(of: suffix)
        } else {
            guard !name.contains("*") else {
                throw NetworkPolicyError(pattern: pattern, message: "`*` is allowed only as a whole first label (`*.example.com`) or alone")
            }
            guard name.allSatisfy(\.isHostCharacter) else {
                throw NetworkPolicyError(pattern: pattern, message: "a host may hold only letters, digits, `-`, `.`, `_` and `:` (IPv6)")
            }
            self.host = .exact(name)
        }
        self.pattern = text
    }

    /// An `inspect` rule: a name or `*.suffix`, never `*` (a CA for every site) nor an address
    /// (name constraints on DNS names do not bind addresses, and addresses are not inspected).
    public init(inspecting pattern: String) throws(NetworkPolicyError) {
        try self.init(pattern)
        switch host {
        case .any:
            throw NetworkPolicyError(pattern: pattern, message: "`*` cannot be inspected: Airlock's CA would then be able to impersonate every site; name the domains")
        case .exact(let name), .subdomains(of: let name):
            if name.contains(":") || name.split(separator: ".").allSatisfy({ $0.allSatisfy(\.isNumber) }) {
                throw NetworkPolicyError(pattern: pattern, message: "inspect takes host names, not IP addresses")
            }
            if !name.contains(".") && name != "localhost" {
                throw NetworkPolicyError(pattern: pattern, message: "inspect takes a domain with at least two labels (\"*.\(name)\" would cover a whole top-level domain)")
            }
        }
    }

    public var description: String { pattern }

    /// A rule that names one host, with no wildcard.
    public var isExactName: Bool {
        if case .exact = host { return true }
        return false
    }

    public func matches(host: String, port: Int) -> Bool {
        matches(normalizedHost: HostRule.normalize(host), port: port)
    }

    func matches(normalizedHost name: String, port: Int) -> Bool {
        if let own = self.port, own != port { return false }
        switch host {
        case .any: return !name.isEmpty
        case .exact(let exact): return name == exact
        case .subdomains(let suffix):
            return name.count > suffix.count + 1 && name.hasSuffix("." + suffix)
        }
    }

    /// Exact names first, then longer suffixes, then `*`; a rule with a port before one without.
    var specificity: Int {
        let base: Int
        switch host {
        case .any: base = 0
        case .subdomains(let suffix): base = 1 + suffix.count
        case .exact: base = 1_000_000
        }
        return base * 2 + (port == nil ? 0 : 1)
    }

    /// Lowercased (ASCII), brackets of an IPv6 literal and one trailing dot removed.
    public static func normalize(_ host: String) -> String {
        var name = Substring(host)
        if name.hasPrefix("["), name.hasSuffix("]") { name = name.dropFirst().dropLast() }
        if name.hasSuffix("."), name.count > 1 { name = name.dropLast() }
        return String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }))
    }
}

public struct NetworkPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var pattern: String
    public var message: String

    public init(pattern: String, message: String) {
        self.pattern = pattern
        self.message = message
    }

    public var description: String { "host rule \"\(pattern)\": \(message)" }
}

/// Addresses the proxy refuses to connect to on its own authority: the host's loopback, private and
/// link-local ranges (reachable only when an allow rule names the host exactly), and the cloud
/// instance-metadata endpoints, which hand out real credentials and are refused always.
///
/// The check is made on the addresses the proxy is about to connect to, after its own DNS
/// resolution, so a name that resolves to 127.0.0.1 is caught as surely as the literal.
public enum ReservedAddress: String, Sendable, Hashable {
    case loopback
    case privateNetwork = "private network"
    case linkLocal = "link-local"
    case unspecified
    case multicast
    case metadata = "cloud instance metadata"

    /// The metadata endpoints are refused even when a rule names them.
    public var refusedEvenWhenNamed: Bool { self == .metadata }

    /// Host names that lead to a cloud's metadata service.
    public static let metadataNames: Set<String> = [
        "metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal",
        "metadata.azure.internal",
    ]

    /// Classifies a raw address: 4 bytes (IPv4) or 16 bytes (IPv6), network order.
    /// Returns nil for an ordinary public address.
    public static func classify(_ bytes: [UInt8]) -> ReservedAddress? {
        switch bytes.count {
        case 4: return classifyIPv4(bytes)
        case 16: return classifyIPv6(bytes)
        default: return .unspecified  // not an address we understand: treat it as refused
        }
    }

    static func classifyIPv4(_ a: [UInt8]) -> ReservedAddress? {
        // AWS, GCP, Azure, OpenStack: 169.254.169.254; Alibaba: 100.100.100.200; Oracle: 192.0.0.192.
        if a == [169, 254, 169, 254] || a == [169, 254, 170, 2] || a == [100, 100, 100, 200] || a == [192, 0, 0, 192] {
            return .metadata
        }
        switch (a[0], a[1]) {
        case (127, _): return .loopback
        case (0, _): return .unspecified
        case (10, _): return .privateNetwork
        case (172, 16...31): return .privateNetwork
        case (192, 168): return .privateNetwork
        case (100, 64...127): return .privateNetwork  // carrier-grade NAT, used inside clouds
        case (169, 254): return .linkLocal
        case (224...255, _): return .multicast  // multicast, reserved and broadcast
        default: return nil
        }
    }

    static func classifyIPv6(_ a: [UInt8]) -> ReservedAddress? {
        // AWS's IPv6 metadata endpoint fd00:ec2::254.
        if a == [0xfd, 0x00, 0x0e, 0xc2] + [UInt8](repeating: 0, count: 10) + [0x02, 0x54] { return .metadata }
        if a.allSatisfy({ $0 == 0 }) { return .unspecified }
        if a[0..<15].allSatisfy({ $0 == 0 }) && a[15] == 1 { return .loopback }
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): judge the IPv4 inside.
        if a[0..<10].allSatisfy({ $0 == 0 }) && ((a[10] == 0xff && a[11] == 0xff) || (a[10] == 0 && a[11] == 0)) {
            return classifyIPv4(Array(a[12..<16]))
        }
        // NAT64 (64:ff9b::/96) embeds an IPv4 address too.
        if a[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] {
            return classifyIPv4(Array(a[12..<16]))
        }
        if a[0] & 0xfe == 0xfc { return .privateNetwork }  // fc00::/7
        if a[0] == 0xfe && a[1] & 0xc0 == 0x80 { return .linkLocal }  // fe80::/10
        if a[0] == 0xfe && a[1] & 0xc0 == 0xc0 { return .privateNetwork }  // fec0::/10, deprecated site-local
        if a[0] == 0xff { return .multicast }
        return nil
    }
}

extension Character {
    fileprivate var isHostCharacter: Bool {
        isASCII && (isLetter || isNumber || self == "-" || self == "." || self == "_" || self == ":")
    }
}

extension StringProtocol {
    /// Without the spaces and tabs at either end (HTTP's optional whitespace). In Swift alone:
    /// Foundation's `trimmingCharacters(in:)` goes through NSString, microseconds per call on
    /// the proxy's path.
    public var trimmingSpacesAndTabs: SubSequence {
        func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
