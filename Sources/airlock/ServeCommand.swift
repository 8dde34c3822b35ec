import AirlockPolicy
import AirlockService
import AirlockSignOff
import ArgumentParser
import Foundation
import Logging
import Synchronization

/// `airlock serve`: the sign-off service for a team (docs/serve.md).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the sign-off service: the queue in PostgreSQL, for sandboxes and approvers on any machine.",
        subcommands: [Start.self, AddHost.self, AddApprover.self, ProposeApprovers.self],
        defaultSubcommand: Start.self)

    struct DatabaseOption: ParsableArguments {
        @Option(help: ArgumentHelp("PostgreSQL: postgres://USER@HOST:PORT/DATABASE (or ?host=/socket/dir); the password may be in PGPASSWORD.", valueName: "url"))
        var database: String

        func url() throws -> DatabaseURL {
            do { return try DatabaseURL(database) } catch { throw ValidationError("\(error)") }
        }

        /// Registers `name` in the database and prints its token.
        func register(_ name: String, kind: PostgresQueueStore.PrincipalKind, owner: String?) throws {
            let url = try url()
            try runAsync {
                print(try await SignOffServer.addPrincipal(database: url, name: name, kind: kind, owner: owner, logger: Logger(label: "airlock-serve")))
            }
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: "Serve the API (the default).")
        @OptionGroup var database: DatabaseOption
        @Option(help: ArgumentHelp("Where to listen, HOST:PORT (port 0: any free port, printed).", valueName: "host:port"))
        var listen = "127.0.0.1:8443"
        @Option(help: ArgumentHelp("The approvers' allowed_signers file.", valueName: "file"))
        var approvers: String
        @Option(help: ArgumentHelp("The approval page's address as browsers reach it, https://HOST[:PORT]; its host is the passkeys' relying party (default: http://localhost:PORT).", valueName: "url"))
        var origin: String?
        @Option(help: ArgumentHelp("Serve HTTPS with this PEM certificate chain (with --tls-key); then any address may be listened on.", valueName: "file"))
        var tlsCert: String?
        @Option(help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "file"))
        var tlsKey: String?
        @Option(name: .customLong("webhook"), help: ArgumentHelp("Post each new request and decision to this URL as Slack-compatible JSON (repeatable).", valueName: "url"))
        var webhooks: [String] = []
        @Flag(name: .shortAndLong, help: "Log every request.") var verbose = false

        func run() throws {
            let url = try database.url()
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--listen \(listen): not HOST:PORT")
            }
            let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
            for file in [tlsCert, tlsKey].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
                throw ValidationError("\(file == tlsCert ? "--tls-cert" : "--tls-key") \(file): cannot be read")
            }
            let loopback = ["127.0.0.1", "::1", "localhost"].contains(host)
            // Tokens travel in the clear without TLS: only on this machine's loopback.
            guard loopback || tlsCert != nil else {
                throw ValidationError("--listen \(listen): without --tls-cert and --tls-key the service speaks plain HTTP, so it listens on loopback only (127.0.0.1, ::1)")
            }
            // Off loopback the page's address cannot be guessed: passkeys are bound to its host name.
            guard loopback || origin != nil else {
                throw ValidationError("--listen \(listen): say where browsers reach the page with --origin https://HOST[:PORT] (passkeys are bound to that host name)")
            }
            guard FileManager.default.isReadableFile(atPath: approvers) else {
                throw ValidationError("--approvers \(approvers): cannot be read")
            }
            if let origin, let problem = ServiceOrigin.problem(origin) {
                throw ValidationError("--origin \(origin): \(problem)")
            }
            for hook in webhooks where !(hook.hasPrefix("https://") || hook.hasPrefix("http://")) || URL(string: hook)?.host == nil {
                throw ValidationError("--webhook \(hook): not an http:// or https:// URL")
            }
            let level: Logger.Level = verbose ? .debug : .info
            let logger = Logger(label: "airlock-serve") { _ in OperatorLogHandler(logLevel: level) }
            let approversPath = approvers, origin = origin, webhooks = webhooks
            let tls = tlsCert.map { (certificate: $0, key: tlsKey!) }
            try runAsync {
                try await SignOffServer.run(database: url, host: host, port: port, approversPath: approversPath, origin: origin,
                                            webhooks: webhooks, tls: tls, logger: logger) { port, page in
                    FileHandle.standardOutput.write(Data("airlock serve: listening on \(tls == nil ? "http" : "https")://\(host.contains(":") ? "[\(host)]" : host):\(port), queue in \(url), approval page at \(page)/\n".utf8))
                }
            }
        }
    }

    struct AddHost: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-host",
            abstract: "Register a sandbox host; prints its token once (give it to that host's operator, never to an agent).")
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The host's name, as approvers will see it.") var name: String
        @Option(help: ArgumentHelp("The approvers' principal who runs agents there: requests are made in their name, and their own approval does not count.", valueName: "principal"))
        var owner: String

        func run() throws { try database.register(name, kind: .host, owner: owner) }
    }

    struct AddApprover: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-approver",
            abstract: "Register an approver's access to the API; prints the token once. Their decisions count only if signed by a key in the approvers file.")
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The approver's name.") var name: String

        func run() throws { try database.register(name, kind: .approver, owner: nil) }
    }

    struct ProposeApprovers: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "propose-approvers",
            abstract: "Propose a new approvers list: a request in the chain that approvers sign like any other; once two of the approvers in force (or --quorum) approve, it is the list in force.")
        @OptionGroup var database: DatabaseOption
        @Argument(help: ArgumentHelp("The whole new list, an allowed_signers file.", valueName: "file")) var file: String
        @Option(help: ArgumentHelp("The service's approvers file (its --approvers), where the list in force starts.", valueName: "file"))
        var approvers: String
        @Option(help: ArgumentHelp("Approvals needed (at least 2).", valueName: "n")) var quorum = 2
        @Option(help: ArgumentHelp("How long approvers have to decide: 30m, 24h, 7d.", valueName: "duration")) var expires = "24h"
        @Option(name: .customLong("as"), help: ArgumentHelp("Who proposes (default: your user name): their own approval of it does not count.", valueName: "name"))
        var requester: String?

        func run() throws {
            let url = try database.url()
            guard quorum >= 2 else { throw ValidationError("--quorum \(quorum): a change of the approvers needs at least 2 approvals") }
            guard let seconds = Durations.commandLineSeconds(expires), seconds > 0 else {
                throw ValidationError("--expires \(expires): not a duration such as 30m, 24h or 7d")
            }
            let text: String
            do {
                _ = try AllowedSigners(contentsOf: file)
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch { throw ValidationError("\(error)") }
            let anchor: AllowedSigners
            do { anchor = try AllowedSigners(contentsOf: approvers) } catch { throw ValidationError("--approvers \(approvers): \(error)") }
            let operation = HeldOperation(kind: .approvers, approvers: text, cwd: [], exe: "", sandbox: "airlock serve",
                                          rule: "approvers", expires: Date().addingTimeInterval(TimeInterval(seconds)))
            do { try operation.validate() } catch { throw ValidationError("\(file): \(error)") }
            let requester = requester ?? SignOffSetup.userName(), quorum = quorum
            try runAsync {
                let (request, inForce) = try await SignOffServer.proposeApprovers(
                    operation, requester: requester, quorum: quorum, anchor: anchor, database: url, logger: Logger(label: "airlock-serve"))
                print("proposed as request \(request.id), \(quorum) approvals needed by \(RFC3339.format(operation.expires)) (the proposer's own does not count):")
                for line in ApproversDiff.lines(from: inForce, to: text) { print("  " + line) }
            }
        }
    }
}

/// Runs `body` to its end from synchronous code (the CLI's commands are synchronous).
func runAsync(_ body: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Mutex<Result<Void, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<Void, any Error>
        do { try await body(); result = .success(()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    try outcome.withLock { $0 }?.get()
}
