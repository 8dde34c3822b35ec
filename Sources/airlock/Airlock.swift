import AirlockPolicy
import AirlockSandbox
import ArgumentParser
import Foundation
import Logging

@main
struct Airlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock",
        abstract: "Run an AI coding agent in a kernel-enforced sandbox.",
        discussion: """
            The agent sees its workspace writable, the rest of the host read-only and secrets absent, \
            under a seccomp filter. See README.md for profiles and the threat model.
            """,
        subcommands: [Run.self, Approve.self, Deny.self, QueueCommand.self, PolicyCommand.self, Doctor.self, ProfileCommand.self, Serve.self]
    )

    /// argument-parser exits 64 on a usage error; `airlock run` promises 125 for every failure of
    /// its own (as env(1) and docker do), so that an agent's own exit status is never ambiguous.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "run" { EarlyProfile.current = EarlyProfile(arguments: arguments.dropFirst()) }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let status as ExitCode {
            // A command's own status (the agent's, for run): argument-parser's error reporting
            // would look the error's type up by reflection first, which costs a run 2% of its start.
            Foundation.exit(status.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code != .success, arguments.first == "run" {
                printError(message(for: error))
                Foundation.exit(125)
            }
            exit(withError: error)
        }
    }
}

/// Messages to the operator on stderr as `airlock: message`: warnings always, information with -v.
struct OperatorLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        printError("\(event.message)")
    }

    static func logger(verbose: Bool) -> Logger {
        Logger(label: "airlock") { _ in OperatorLogHandler(logLevel: verbose ? .debug : .warning) }
    }
}

/// The profile search path for this installation.
func profileLoader() -> ProfileLoader {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return ProfileLoader(searchPaths: ProfileLoader.defaultSearchPaths(
        environment: ProcessInfo.processInfo.environment, executablePath: exe))
}

extension Backend: ExpressibleByArgument {}
extension NetworkMode: ExpressibleByArgument {}
