import AirlockPolicy
import AirlockSandbox
import ArgumentParser
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Ask the policy about an operation.", subcommands: [Explain.self])

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "explain", 
            abstract: "Print which command rule matches a command line, and why (wrappers looked through included).")
        @Option(help: "Profile name or path.") var profile = "default"
        @Option(help: "The workspace the command would run in (default: the current directory).") var workspace: String?
        @Argument(parsing: .postTerminator, help: "The command line, after --.") var argv: [String] = []

        func validate() throws {
            if argv.isEmpty { throw ValidationError("no command line given: airlock policy explain -- COMMAND [ARGS...]") }
        }

        func run() throws {
            try reportingErrors {
                let loaded = try profileLoader().load(profile)
                let env = ProcessInfo.processInfo.environment
                let home = env["HOME"] ?? "/"
                let here = FileManager.default.currentDirectoryPath
                let ws = expandPath(workspace ?? here, home: home, relativeTo: here)
                let rules = try resolvedProtectRules(profile: loaded, workspace: ws, home: home)
                let context = ExecContext(workspace: Array(ws.utf8), cwd: Array(here.utf8), home: Array(home.utf8), protectedRules: rules)
                let classifier = ExecClassifier(profile: loaded)
                let bytes = CommandLine.arguments.drop { $0 != "--" }.dropFirst().map { Array($0.utf8) }
                let envBytes = env.map { Array("\($0.key)=\($0.value)".utf8) }
                print(classifier.explain(argv: bytes, environment: envBytes, context: context), terminator: "")
                if classifier.classify(argv: bytes, environment: envBytes, context: context) == nil { return }
                throw ExitCode(3) // a rule matches: scripts can tell
            }
        }
    }
}
