import Foundation
import NIOSSL
import PostgresNIO

/// Where the service's PostgreSQL is, as libpq's URIs say it:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require]`, or a Unix socket
/// directory as `postgres://USER@/DATABASE?host=/var/run/postgresql` (the socket is
/// `DIR/.s.PGSQL.PORT`). The password may come from `PGPASSWORD` instead of the URL.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public let configuration: PostgresClient.Configuration
    /// The URL without its password, for messages.
    public let description: String

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func bad(_ why: String) -> DatabaseURLError { DatabaseURLError(message: "--database \(Self.redacted(text)): \(why)") }
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw bad("not a postgres:// URL (postgres://USER@HOST:PORT/DATABASE)")
        }
        guard let user = url.user, !user.isEmpty else { throw bad("no user name (postgres://USER@…)") }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw bad("no database name (…/DATABASE)") }
        let password = url.password ?? environment["PGPASSWORD"]
        var query: [String: String] = [:]
        for item in url.queryItems ?? [] {
            guard ["sslmode", "host"].contains(item.name) else { throw bad("unknown parameter \(item.name) (sslmode, host)") }
            query[item.name] = item.value ?? ""
        }
        let port = url.port ?? 5432
        if let directory = query["host"], directory.hasPrefix("/") {
            configuration = PostgresClient.Configuration(unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: user,
                                                         password: password, database: database)
        } else {
            guard let host = url.host, !host.isEmpty else { throw bad("no host (postgres://USER@HOST/…, or ?host=/socket/directory)") }
            let tls: PostgresClient.Configuration.TLS
            switch query["sslmode"] ?? "disable" {
            case "disable": tls = .disable
            case "require", "verify-full": tls = .require(TLSConfiguration.makeClientConfiguration())
            case let mode: throw bad("sslmode \(mode.debugDescription) is not disable, require or verify-full")
            }
            configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password,
                                                         database: database, tls: tls)
        }
        description = Self.redacted(text)
    }

    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? text
    }
}

public struct DatabaseURLError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
