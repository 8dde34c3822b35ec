import AirlockSandbox
import AirlockService
import AirlockSignOff
import AirlockSupervisor
import ArgumentParser
import Foundation

/// Where the queue and approvers are, for the commands approvers run (outside any sandbox).
struct QueueOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The sign-off queue: a file (default: $AIRLOCK_QUEUE or airlock's state directory), or an airlock serve URL (http://HOST:PORT/).", valueName: "file|url"))
    var queue: String?
    @Option(help: ArgumentHelp("The approvers' allowed_signers file (to count approvals).", valueName: "file"))
    var approvers: String?
    @Option(help: ArgumentHelp("With a service URL: the file holding your token from `airlock serve add-approver` (default: $AIRLOCK_TOKEN_FILE or ~/.config/airlock/token).", valueName: "file"))
    var tokenFile: String?

    var queuePath: String { queue ?? QueuePaths.defaultQueue() }
    var approversPath: String { approvers ?? QueuePaths.defaultApprovers() }

    /// The service, when `--queue` names one.
    func service() throws -> ServiceClient? {
        guard ServiceClient.isURL(queuePath) else { return nil }
        let file = tokenFile ?? ProcessInfo.processInfo.environment["AIRLOCK_TOKEN_FILE"] ?? NSHomeDirectory() + "/.config/airlock/token"
        guard let token = FileManager.default.contents(atPath: file).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw CLIError("--token-file \(file): cannot be read (the token `airlock serve add-approver` printed for you)")
        }
        do { return try ServiceClient(url: queuePath, token: token) } catch { throw CLIError("--queue \(error)") }
    }

    /// The chain's bytes: the file, or the service's export.
    func chainBytes() throws -> [UInt8] {
        if let service = try service() {
            do { return try service.expect(.GET, "/v1/export") } catch { throw CLIError("cannot read the queue: \(error)") }
        }
        guard let data = FileManager.default.contents(atPath: queuePath) else { throw CLIError("cannot read the queue \(queuePath)") }
        return Array(data)
    }

    /// The chain, read and checked.
    func log() throws -> QueueLog {
        if ServiceClient.isURL(queuePath) { return QueueReader.parse(try chainBytes()) }
        do { return try QueueReader.read(queuePath) } catch {
            throw CLIError("cannot read the queue \(queuePath): \(error)")
        }
    }

    /// The queue and its state. With `sweeping` (every command but `verify`, which only reads),
    /// pending requests of sandboxes that ended without closing them are cancelled first
    /// (`GhostSweep`), so nothing is shown as approvable that nobody is left to carry out. A
    /// service's sandboxes settle their own requests: nothing is swept there.
    func state(sweeping: Bool = true) throws -> (QueueLog, QueueState) {
        let log = try log()
        let state = QueueState.fold(log, approvers: approverKeys(), now: Date())
        guard sweeping, !ServiceClient.isURL(queuePath) else { return (log, state) }
        let swept = GhostSweep.sweep(queuePath: queuePath, state: state)
        if let error = swept.writeError {
            printError("warning: \(swept.cancelled.count) request(s) of ended sandboxes shown cancelled, but the cancel could not be written to \(queuePath): \(error)")
        }
        return (log, swept.state)
    }

    /// The approvers, or nil with one line saying why no approval can be counted (the queue is
    /// still worth reading without them).
    func approverKeys() -> AllowedSigners? {
        do { return try AllowedSigners(contentsOf: approversPath) } catch {
            printError("warning: approvers file \(approversPath): \(error); no approval can be counted")
            return nil
        }
    }

    func request(_ id: String) throws -> RequestState {
        try request(id, in: try state().1)
    }

    func request(_ id: String, in state: QueueState) throws -> RequestState {
        guard let request = state.requests[id] else { throw CLIError("no request \(id) in \(queuePath)") }
        return request
    }

    /// `log` brought up to date with what was appended since it was read (read once, not again).
    func caughtUp(_ log: QueueLog) throws -> QueueLog {
        if ServiceClient.isURL(queuePath) { return try state(sweeping: false).0 }
        let more: QueueLog
        do { more = try QueueReader.readAppended(queuePath, from: log.tail).log } catch {
            throw CLIError("cannot read the queue \(queuePath): \(error)")
        }
        return QueueLog(records: log.records + more.records, warnings: log.warnings + more.warnings,
                        chainBreak: log.chainBreak ?? more.chainBreak, tail: more.tail)
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// Runs `body`, printing a failure as one `airlock: ...` line and exiting 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let error as ExitCode { throw error } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve a held operation with your SSH key (ssh-keygen -Y sign).")
    @Argument(help: "The request id.") var id: String
    @Option(help: ArgumentHelp("Your signing key (a private key, or a public key held by ssh-agent).", valueName: "file"))
    var key: String?
    @Option(help: "Why.") var reason: String?
    @OptionGroup var options: QueueOptions

    func run() throws { try reportingErrors { try decide(.approve, id, key, reason, options) } }
}

struct Deny: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deny", abstract: "Deny a held operation (the agent's call fails with EPERM).")
    @Argument(help: "The request id.") var id: String
    @Option(help: ArgumentHelp("Your signing key.", valueName: "file")) var key: String?
    @Option(help: "Why (required).") var reason: String
    @OptionGroup var options: QueueOptions

    func run() throws { try reportingErrors { try decide(.deny, id, key, reason, options) } }
}

func decide(_ decision: Decision, _ id: String, _ key: String?, _ reason: String?, _ options: QueueOptions) throws {
    // A decision nobody can count helps nobody: refuse it up front, naming the file.
    do { _ = try AllowedSigners(contentsOf: options.approversPath) } catch {
        throw CLIError("approvers file \(options.approversPath): \(error); nothing signed (pass --approvers FILE)")
    }
    let (log, state) = try options.state()
    let current = try options.request(id, in: state)
    if current.state == .cancelled {
        let why = current.cancelReason.map { " (\($0))" } ?? ""
        throw CLIError("request \(id) was cancelled\(why): there is nothing left to \(decision.rawValue)")
    }
    guard current.state == .pending else { throw CLIError("request \(id) is \(current.state.rawValue), not pending") }
    let keyFile = key ?? (NSHomeDirectory() + "/.ssh/id_ed25519")
    let signed = try SignedDecision.sign(decision, on: current.request, sigExpires: current.request.operation.expires,
                                         reason: reason, keyFile: keyFile)
    if let service = try options.service() {
        // The service appends it only if it counts, and says why not.
        var body: [String: String] = ["signature": signed.signature ?? "", "sig_expires": RFC3339.format(signed.sigExpires)]
        if let reason { body["reason"] = reason }
        do {
            _ = try service.expect(.POST, "/v1/requests/\(id)/\(decision.rawValue)", body: Array(try JSONSerialization.data(withJSONObject: body)))
        } catch { throw CLIError("your \(decision.rawValue) of \(id) was not recorded: \(error)") }
    } else {
        try QueueFile(path: options.queuePath).append(decision == .approve ? .approve(signed) : .deny(signed))
    }
    let after = try options.request(id, in: QueueState.fold(try options.caughtUp(log), approvers: options.approverKeys(), now: Date()))
    // Another decision, the resolve or the expiry may have landed between the check above and this
    // line: then it is on record but counts for nothing, and the approver must know.
    let mine = { (r: RequestState) in r.rejected.filter { $0.signer == signed.signer && $0.decision == decision } }
    if mine(after).count > mine(current).count, let rejected = mine(after).last {
        throw CLIError("your \(decision.rawValue) of \(id) is on record but counts for nothing: \(rejected.reason.rawValue)"
                       + "\(rejected.detail.isEmpty ? "" : " (\(rejected.detail))"); the request is \(after.state.rawValue)")
    }
    print("\(decision == .approve ? "approved" : "denied") \(id) as \(signed.signer): \(after.state.rawValue), \(after.approvals.count)/\(after.quorum) approvals")
}

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Read the sign-off queue.",
        subcommands: [List.self, Show.self, Watch.self, Verify.self, Export.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List requests and their state.")
        @Flag(help: "Print a JSON array.") var json = false
        @Flag(help: "Only pending requests.") var pending = false
        @OptionGroup var options: QueueOptions

        func run() throws {
            try reportingErrors {
                let (_, state) = try options.state()
                let rows = state.order.compactMap { state.requests[$0] }.filter { !pending || $0.state == .pending }
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    let data = try encoder.encode(rows.map(\.summary))
                    print(String(decoding: data, as: UTF8.self))
                    return
                }
                for r in rows {
                    print("\(r.id)  \(r.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(r.approvals.count)/\(r.quorum)  \(r.request.operation.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(r.what)  [\(r.request.operation.rule)]")
                }
                if let broken = state.chainBreak { printError("the queue's chain is broken at \(broken): no approval counts") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one request: the operation, what approval grants, decisions.")
        @Argument(help: "The request id.") var id: String
        @OptionGroup var options: QueueOptions

        func run() throws {
            try reportingErrors {
                let state = try options.state().1
                let r = try options.request(id, in: state)
                let op = r.request.operation
                print("id:        \(r.id)")
                print("state:     \(r.state.rawValue) (\(r.approvals.count)/\(r.quorum) approvals)")
                print("operation: \(op.kind.rawValue) \(r.what)")
                print("rule:      \(op.rule)")
                if let api = op.api {
                    print("request:   \(api.method) \(op.host ?? "?"):\(op.port ?? 0)\(api.target)")
                    print("           (sha256 of the whole request: \(api.requestDigest))")
                    if case .object(let fields)? = r.request.scope, case .object(let parameters)? = fields["parameters"] {
                        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
                            print("  \(name.terminalSafe) = \(value.compact.terminalSafe)")
                        }
                    }
                    print("process:   a request through airlock's egress proxy (the client process is not known)")
                } else if op.kind == .connect {
                    print("process:   a connection through airlock's egress proxy (the client process is not known)")
                } else if let proposed = op.approvers {
                    print("the list:  \(r.state == .pending ? "against the list in force now" : "as proposed") (+ added, - removed, = kept)")
                    for line in ApproversDiff.lines(from: r.state == .pending ? state.approvers : nil, to: proposed) {
                        print("  \(line.terminalSafe)")
                    }
                } else {
                    print("process:   pid \(r.request.pid), \(op.exe), cwd \(String(decoding: op.cwd, as: UTF8.self))")
                }
                print("sandbox:   \(op.sandbox), requested by \(r.request.requester)")
                print("expires:   \(op.expires)")
                print("digest:    \(r.request.digest)")
                if let scope = r.request.scope { print("grant:     \(scope.compact)") }
                for a in r.approvals { print("approved by \(a.signer) \(a.principals) \(a.reason.map { "— \($0)" } ?? "")") }
                if let d = r.denial { print("denied by \(d.signer) \(d.reason.map { "— \($0)" } ?? "")") }
                for x in r.rejected { print("not counted: \(x.decision.rawValue) by \(x.signer): \(x.reason.rawValue) \(x.detail)") }
                if r.state == .cancelled { print("cancelled: \(r.cancelReason ?? "no reason given")") }
                if let res = r.resolution { print("resolved:  \(res.outcome.rawValue)\(res.errno.map { " (errno \($0))" } ?? "")") }
            }
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "watch", abstract: "Follow the queue file and print events as they land.")
        @OptionGroup var options: QueueOptions

        func run() throws {
            if let service = try options.service() { return try follow(service) }
            var seen = 0
            while true {
                if let log = try? QueueReader.read(options.queuePath), log.records.count > seen {
                    for record in log.records[seen...] { print(record.watchLine) }
                    fflush(nil)
                    seen = log.records.count
                }
                usleep(200_000)
            }
        }

        /// A service's chain, as it grows: a long poll from the last line seen.
        func follow(_ service: ServiceClient) throws {
            var tail = QueueTail.start
            while true {
                let bytes: [UInt8]
                do { bytes = try service.expect(.GET, "/v1/events?after=\(tail.seq)&wait=25", timeout: .seconds(40)) } catch {
                    printError("\(error); trying again")
                    sleep(1)
                    continue
                }
                let log = QueueReader.parse(bytes, from: .after(seq: tail.seq, hash: tail.hash))
                for record in log.records { print(record.watchLine) }
                fflush(nil)
                if let broken = log.chainBreak { throw CLIError("\(options.queuePath): chain broken at \(broken)") }
                tail = log.tail
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "Write the queue's chain as JSON Lines, byte for byte (for `airlock queue verify --queue FILE` offline).")
        @OptionGroup var options: QueueOptions

        func run() throws {
            try reportingErrors { FileHandle.standardOutput.write(Data(try options.chainBytes())) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify", abstract: "Verify the queue's hash chain; fails naming the first broken line.")
        @OptionGroup var options: QueueOptions

        func run() throws {
            try reportingErrors {
                let (log, _) = try options.state(sweeping: false)
                for warning in log.warnings { printError("\(options.queuePath): \(warning)") }
                if let broken = log.chainBreak { throw CLIError("\(options.queuePath): chain broken at \(broken)") }
                print("\(options.queuePath): \(log.records.count) events, chain intact")
                let state = QueueState.fold(log, approvers: options.approverKeys(), now: Date(), checks: .all)
                for change in state.approverChanges {
                    let by = state.requests[change.id]?.approvals.map { $0.principals.joined(separator: ",") }.joined(separator: " and ") ?? "?"
                    print("approvers list changed by request \(change.id) at line \(change.line ?? 0), approved by \(by.terminalSafe): \(change.approvers.entries.count) key(s) in force from there")
                }
            }
        }
    }
}

extension RequestState {
    var what: String { request.operation.subject.terminalSafe }
}

extension QueueRecord {
    /// One line of `queue watch`.
    var watchLine: String { "\(seq) \(event.name) \(event.requestID)\(event.watchDetail)" }
}

extension QueueEvent {
    var watchDetail: String {
        switch self {
        case .request(let r), .audit(let r):
            return " \(r.operation.kind.rawValue) \(r.operation.subject) [\(r.operation.rule)]"
        case .approve(let d), .deny(let d): return " by \(d.signer)"
        case .resolve(let r): return " \(r.outcome.rawValue)"
        case .cancel(_, let reason?): return " (\(reason))"
        default: return ""
        }
    }
}

extension JSONValue {
    var compact: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .integer(let i): "\(i)"
        case .number(let d): "\(d)"
        case .string(let s): s
        case .array(let a): "[" + a.map(\.compact).joined(separator: ", ") + "]"
        case .object(let o): o.keys.sorted().map { "\($0): \(o[$0]!.compact)" }.joined(separator: ", ")
        }
    }
}

extension String {
    /// Printable on an approver's terminal: what the agent chose (a path, a request's parameters)
    /// cannot carry escape sequences that rewrite what the approver reads.
    var terminalSafe: String {
        var out = ""
        for scalar in unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) || v == 0x2028 || v == 0x2029 || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v) {
                out += "\\u{\(String(v, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
