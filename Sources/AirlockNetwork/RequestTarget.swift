import Foundation
import NIOHTTP1

/// The host and port a request names, checked to be a plain host name or IP literal: nothing
/// that could confuse the resolver, the policy or the log.
struct RequestTarget: Sendable, Hashable {
    /// Without brackets for IPv6.
    var host: String
    var port: Int

    /// `host:port` or `[v6]:port` (a CONNECT target); the port is required.
    init?(authority: String) {
        guard let (host, port) = Self.split(authority), let port else { return nil }
        self.host = host
        self.port = port
    }

    init?(host: String, port: Int) {
        guard Self.isValidHost(host), (1...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    /// Splits `host[:port]`, `[v6][:port]`; nil when malformed.
    static func split<S: StringProtocol>(_ authority: S) -> (host: String, port: Int?)? {
        var host: Substring
        var portText: Substring?
        let text = Substring(authority)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
            guard host.contains(":") else { return nil }
        } else {
            if let colon = text.firstIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text
            }
        }
        guard isValidHost(host) else { return nil }
        guard let portText else { return (String(host), nil) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit),
              let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return (String(host), port)
    }

    static func isValidHost<S: StringProtocol>(_ host: S) -> Bool {
        !host.isEmpty && host.utf8.count <= 253 && !host.hasPrefix("-") && !host.hasPrefix(".")
            && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" || $0 == ":") }
    }
}

/// An absolute-form request target, `http://host[:port]/path?query`.
struct AbsoluteURL: Sendable, Hashable {
    var target: RequestTarget
    /// Origin-form: path and query, at least `/`.
    var path: String
    /// What goes in the upstream's Host header.
    var authority: String

    static func parse(_ uri: String) -> Result<AbsoluteURL, ProxyRefusal> {
        func malformed(_ why: String) -> Result<AbsoluteURL, ProxyRefusal> {
            .failure(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                                  message: "\(why): refused"))
        }
        guard let schemeEnd = uri.range(of: "://") else {
            return malformed("request target \"\(uri.prefix(200))\" is neither absolute-form nor CONNECT")
        }
        let scheme = uri[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" else {
            if scheme == "https" {
                return malformed("https:// requests must use CONNECT")
            }
            return malformed("scheme \"\(scheme.prefix(20))\" is not supported (http:// or CONNECT only)")
        }
        let rest = uri[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if authority.contains("@") {
            return malformed("credentials in the request URL")
        }
        guard let (host, port) = RequestTarget.split(authority),
              let target = RequestTarget(host: host, port: port ?? 80)
        else {
            return malformed("bad host in \"\(uri.prefix(200))\"")
        }
        var path = String(rest[authorityEnd...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return .success(AbsoluteURL(target: target, path: path, authority: String(authority)))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1).
enum HopByHop {
    static let names: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// `headers` without hop-by-hop fields and without those the Connection header names.
    static func removing(from headers: HTTPHeaders) -> HTTPHeaders {
        // Most messages carry none: keep the list as it is rather than build a new one.
        if !headers.contains(where: { names.contains($0.name.lowercased()) }) { return headers }
        let listed = Set(headers["connection"].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingSpacesAndTabs.lowercased() })
        var result = HTTPHeaders()
        for (name, value) in headers {
            let lower = name.lowercased()
            if names.contains(lower) || listed.contains(lower) { continue }
            result.add(name: name, value: value)
        }
        return result
    }
}
