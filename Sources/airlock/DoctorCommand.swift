import AirlockSandbox
import ArgumentParser
import Foundation

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", 
        abstract: "Report what this kernel and environment allow, and what airlock run will use.",
        discussion: "Every check is made for real: a seccomp listener installed and answered, sandboxes started with each backend."
    )
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        Sandbox.blockSignals()
        let report = KernelReport.probe(workspace: FileManager.default.temporaryDirectory.path,
                                        environment: ProcessInfo.processInfo.environment)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        func line(_ name: String, _ check: KernelReport.Check) {
            print("\(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(check.ok ? "ok  " : "FAIL") \(check.detail)")
        }
        print("\("kernel".padding(toLength: 28, withPad: " ", startingAt: 0)) \(report.kernel)")
        print("\("libseccomp".padding(toLength: 28, withPad: " ", startingAt: 0)) \(report.libseccomp)")
        line("seccomp user notification", report.seccompUserNotification)
        line("landlock", report.landlock)
        line("namespaces backend", report.namespacesBackend)
        line("landlock-only backend", report.landlockBackend)
        line("proxy mode, namespaces", report.proxyModeNamespaces)
        line("proxy mode, landlock-only", report.proxyModeLandlock)
        line("host daemons' sockets", report.hostSockets)
        print("\nairlock run will use: \(report.verdict)")
        print("network = \"proxy\" will use: \(report.proxyModeVerdict)")
    }
}
