import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of the tests' own, from Debian's packages (scripts/test installs them): a
/// cluster made with initdb under /var/tmp, run as the `postgres` user (the server refuses root),
/// on 127.0.0.1 and a port of its own, trusting local connections. One per test process, made at
/// first use; each test takes a database of its own. `restart()` stops and starts it under the
/// tests' feet (as a failover would).
final class PostgresServer: @unchecked Sendable {
    static let shared = Result { try PostgresServer() }

    let directory: String
    let port: Int
    let bin: String
    private let lock = NSLock()
    private var databases = 0

    private init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.compactMap(Int.init).max() else {
            throw HarnessError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin): scripts/test installs Debian's postgresql")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        directory = try makeTemporaryDirectory(prefix: "airlock-pg-")
        chmod(directory, 0o755)
        guard let owner = getpwnam("postgres")?.pointee else { throw HarnessError("there is no postgres user (Debian's postgresql makes it)") }
        chown(directory, owner.pw_uid, owner.pw_gid)
        port = Self.freePort()
        let initdb = try run([bin + "/initdb", "-D", directory + "/data", "-U", "airlock", "--auth=trust", "-E", "UTF8", "--no-sync"], timeout: 120)
        guard initdb.status == 0 else { throw HarnessError("initdb failed: \(initdb)") }
        try start()
        atexit {
            guard case .success(let server) = PostgresServer.shared else { return }
            try? server.stop()
            removeTree(server.directory)
        }
    }

    /// `argv` as the postgres user.
    private func run(_ argv: [String], timeout: Double = 60) throws -> Outcome {
        try Subprocess(["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"] + argv,
                       environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], directory: directory).wait(timeout: timeout)
    }

    func start() throws {
        let started = try run([bin + "/pg_ctl", "-D", directory + "/data", "-w", "-l", directory + "/log",
                               "-o", "-k \(directory) -p \(port) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start"])
        guard started.status == 0 else { throw HarnessError("PostgreSQL did not start: \(started)\n\(log())") }
    }

    func stop() throws {
        let stopped = try run([bin + "/pg_ctl", "-D", directory + "/data", "-w", "-m", "fast", "stop"])
        guard stopped.status == 0 else { throw HarnessError("PostgreSQL did not stop: \(stopped)") }
    }

    func log() -> String {
        (try? String(contentsOfFile: directory + "/log", encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
    }

    /// A new empty database; its URL for `airlock serve --database`.
    func database() throws -> String {
        let name = lock.withLock { () -> String in
            databases += 1
            return "t\(getpid())_\(databases)"
        }
        let made = try psql("postgres", "CREATE DATABASE \(name)")
        guard made.status == 0 else { throw HarnessError("CREATE DATABASE: \(made)") }
        return "postgres://airlock@127.0.0.1:\(port)/\(name)"
    }

    /// Runs SQL in `database` with psql; the output is unaligned, tuples only.
    func psql(_ database: String, _ sql: String) throws -> Outcome {
        try Subprocess(["/usr/bin/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", "airlock", "-d", database, "-c", sql],
                       environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], directory: "/").wait(timeout: 60)
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
