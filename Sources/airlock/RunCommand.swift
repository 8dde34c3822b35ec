import AirlockPolicy
import AirlockSandbox
import ArgumentParser
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run COMMAND in the sandbox and exit with its status.",
        discussion: """
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

    @Flag(help: "Run even when no filesystem confinement is available (the seccomp filter still applies).")
    var allowUnconfined = false

    @Flag(name: .shortAndLong, help: "Say which protection layers are in force.")
    var verbose = false

    // Reserved for the sign-off feature (held destructive operations), which is not built yet.
    @Option(help: ArgumentHelp("Reserved: protect PATH with sign-off (not built yet).", valueName: "path"))
    var protect: [String] = []
    @Option(help: ArgumentHelp("Reserved: the sign-off queue file (not built yet).", valueName: "file"))
    var queue: String?
    @Option(help: ArgumentHelp("Reserved: the approvers' allowed_signers file (not built yet).", valueName: "file"))
    var approvers: String?
    @Option(help: ArgumentHelp("Reserved: approvals needed (not built yet).", valueName: "n"))
    var quorum: Int?
    @Flag(help: "Reserved: shadow mode for sign-off rules (not built yet).")
    var audit = false

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("no command given: usage is airlock run [options] -- COMMAND [ARGS...]") }
        let reserved = [(!protect.isEmpty, "--protect"), (queue != nil, "--queue"), (approvers != nil, "--approvers"),
                        (quorum != nil, "--quorum"), (audit, "--audit")]
        if let (_, flag) = reserved.first(where: { $0.0 }) {
            throw ValidationError("\(flag) belongs to sign-off, which this version of airlock does not have yet")
        }
    }

    func run() throws {
        Sandbox.blockSignals()
        let logger = OperatorLogHandler.logger(verbose: verbose)
        do {
            let loaded = try profileLoader().load(profile)
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
            let plan = try SandboxPlan(request)
            let status = try Sandbox.run(plan, logger: logger)
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
