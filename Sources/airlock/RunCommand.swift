import AirlockPolicy
import AirlockSandbox
import ArgumentParser
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", 
        abstract: "Run COMMAND in the sandbox and exit with its status.",
        discussion: """
            SIGINT, SIGTERM and SIGHUP are passed on to the command; if it has not ended \
            --stop-timeout after the first of them, or at a second one, airlock kills the whole \
            sandbox and exits 128+N, N being that first signal.

            Exit status: the command's; 128+N when it died of signal N; 125 when airlock itself \
            failed; 126 when COMMAND is not executable; 127 when it is not found.
            """
    )

    @Option(help: "Profile name (searched in ~/.config/airlock/profiles, then the installed profiles/) or path.")
    var profile = "default"

    @Option(help: "The agent's writable workspace (default: the current directory).")
    var workspace: String?

    @Option(name: .customLong("rw"), help: ArgumentHelp("Also writable (repeatable).", valueName: "path"))
    var readWrite: [String] = []

    @Option(name: .customLong("ro"), help: ArgumentHelp("Read-only even inside the workspace (repeatable).", valueName: "path"))
    var readOnly: [String] = []

    @Option(help: ArgumentHelp("Replace with an empty read-only stand-in (repeatable).", valueName: "path"))
    var hide: [String] = []

    @Option(name: .customLong("env-pass"), help: ArgumentHelp("Pass this variable although the profile drops it (repeatable).", valueName: "name"))
    var envPass: [String] = []

    @Option(help: "Override the profile's backend: auto, namespaces or landlock.")
    var backend: Backend?

    @Option(help: "Override the profile's network: proxy (only through airlock's proxy, by the profile's [network] rules), open or none.")
    var network: NetworkMode?

    @Flag(help: "Run even when no filesystem confinement is available (the seccomp filter still applies).")
    var allowUnconfined = false

    @Flag(name: .shortAndLong, help: "Say which protection layers are in force.")
    var verbose = false

    @Option(help: ArgumentHelp("Hold every delete, rename, truncate or write of PATH (and beneath it) for sign-off (repeatable).", valueName: "path"))
    var protect: [String] = []
    @Option(help: ArgumentHelp("The sign-off queue: a file (default: $AIRLOCK_QUEUE, the profile's, or airlock's state directory), or a team's airlock serve (http://HOST:PORT/).", valueName: "file|url"))
    var queue: String?
    @Option(help: ArgumentHelp("With a service as --queue: this host's token file, from `airlock serve add-host` (default: $AIRLOCK_TOKEN_FILE or ~/.config/airlock/token); hidden from the agent.", valueName: "file"))
    var tokenFile: String?
    @Option(help: ArgumentHelp("The approvers' OpenSSH allowed_signers file.", valueName: "file"))
    var approvers: String?
    @Option(help: ArgumentHelp("Distinct approvals a held operation needs (default: the profile's, 2).", valueName: "n"))
    var quorum: Int?
    @Option(help: ArgumentHelp("How long a held call blocks before it fails with EPERM, its request left open: a duration such as 20s or 2m, or 'expiry' (default: the profile's, 20s).", valueName: "duration"),
            transform: { text in
                guard let wait = HoldWait(text) else { throw ValidationError("expected a duration such as 20s or 2m, or 'expiry'") }
                return wait
            })
    var wait: HoldWait?
    @Option(name: .customLong("cloud-credentials"),
            help: "What the agent holds of your cloud credentials: broker (placeholders; airlock's proxy signs each request it lets through with yours, read outside the sandbox), pass (your AWS keys, in its environment) or none.")
    var cloudCredentials: CloudCredentials = .broker
    @Flag(help: "Shadow mode: hold nothing; write each would-be hold to the queue as an audit event and let it proceed.")
    var audit = false

    @Option(help: ArgumentHelp("How long the command has to end after SIGINT, SIGTERM or SIGHUP before the sandbox is killed: seconds, or such as 10s, 1m (default 10s).", valueName: "duration"),
            transform: { text in
                guard let seconds = Durations.commandLineSeconds(text) else {
                    throw ValidationError("expected seconds or a duration such as 10s or 1m")
                }
                return seconds
            })
    var stopTimeout = 10

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("no command given: usage is airlock run [options] -- COMMAND [ARGS...]") }
        if let quorum, quorum < 1 { throw ValidationError("--quorum must be at least 1, got \(quorum)") }
    }

    func run() throws {
        Sandbox.blockSignals()
        let logger = OperatorLogHandler.logger(verbose: verbose)
        do {
            var loaded = try EarlyProfile.load(profile)
            if let network { loaded.network = network }
            var request = SandboxRequest(profile: loaded, command: command,
                                         environment: ProcessInfo.processInfo.environment,
                                         currentDirectory: FileManager.default.currentDirectoryPath)
            request.workspace = workspace
            request.readWrite = readWrite
            request.readOnly = readOnly
            request.hide = hide
            request.envPass = envPass
            request.backend = backend
            request.allowUnconfined = allowUnconfined
            let signOff = try SignOffSetup(profile: loaded, request: request, protect: protect, queue: queue,
                                           approvers: approvers, quorum: quorum, wait: wait, audit: audit, tokenFile: tokenFile, logger: logger)
            // The queue and its .live directory exist before the plan is made, so they are hidden
            // on a first run too.
            try signOff.prepare()
            signOff.apply(to: &request)
            let proxy = try ProxySetup(profile: loaded, environment: request.environment, cloudCredentials: cloudCredentials,
                                       logPath: signOff.networkLogPath, logger: logger)
            request.hide += proxy.hidden
            // Set after the profile's drop: placeholders replace the operator's keys.
            for (name, value) in proxy.credentialVariables {
                request.environment[name] = value
                request.envPass.append(name)
            }
            var plan = try SandboxPlan(request)
            proxy.reportCredentials()
            plan.proxyEnvironment = proxy.variables
            // With no protect and no command rule there is nothing to hold: no listener at all.
            let supervise: Sandbox.Supervise? = signOff.hasRules
                ? { pins, receive throws(SandboxError) in try signOff.supervise(pins: pins, receiveListener: receive, plan: plan) } : nil
            // Held connections wait at the supervisor's sign-off desk, on the same queue; with no file
            // or command rule to intercept, the desk's loop runs without a listener.
            proxy.signOff = signOff.network.map(ProxySignOff.init)
            let status: Int32
            do {
                defer {
                    // The desk first: its last answers (the sandbox ended) reach a proxy still running.
                    signOff.finish()
                    proxy.stop()
                }
                if signOff.network != nil && !signOff.hasRules { try signOff.superviseConnections(plan: plan) }
                let serveProxy: Sandbox.Proxy? = plan.network == .proxy ? { fd, port in proxy.serve(fd, port) } : nil
                status = try Sandbox.run(plan, stopTimeout: .seconds(stopTimeout), logger: logger, supervise: supervise,
                                         proxy: serveProxy)
            }
            throw ExitCode(status)
        } catch let error as ProfileError {
            fail(error.description, 125)
        } catch let error as SandboxError {
            fail(error.message, error.exitCode)
        }
    }

    private func fail(_ message: String, _ code: Int32) -> Never {
        printError(message)
        Foundation.exit(code)
    }
}
