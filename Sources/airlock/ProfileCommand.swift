import AirlockPolicy
import AirlockSandbox
import ArgumentParser
import Foundation

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Check and show profiles.",
        subcommands: [Check.self, Show.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check", abstract: "Check a profile file (and what it extends).")
        @Argument(help: "Profile path or name.") var file: String

        func run() throws {
            do {
                let profile = try profileLoader().load(file)
                print("\(file): ok (\(profile.sources.joined(separator: " <- ")))")
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the effective, merged profile as TOML.")
        @Argument(help: "Profile name or path.") var name = "default"

        func run() throws {
            do {
                print(try profileLoader().load(name).toTOML(), terminator: "")
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        }
    }
}
