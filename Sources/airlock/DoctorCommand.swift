import AirlockSandbox
import ArgumentParser
import Foundation

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Report what this kernel and environment allow, and what airlock run will use.")
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        print("libseccomp \(libseccompVersion)")
    }
}
