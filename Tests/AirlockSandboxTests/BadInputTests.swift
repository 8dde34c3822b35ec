import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bad input: airlock exits 125 with one line on stderr naming the problem, and starts nothing.
@Suite struct BadInputTests {
    /// One kind of bad input: the options before `--`, and a string stderr must contain.
    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        /// Options for `airlock run`; `{ws}`, `{root}` and `{u}` are replaced per sandbox.
        var options: [String]
        /// What stderr must mention (after the same replacements).
        var mentions: [String]
        /// Run without `-- COMMAND` at all.
        var noCommand = false
    }

    static let cases: [Case] = [
        Case(testDescription: "no command", options: [], mentions: [], noCommand: true),
        Case(testDescription: "an unknown profile name", options: ["--profile", "no-such-profile-{u}"], mentions: ["no-such-profile-{u}"]),
        Case(testDescription: "a profile file that does not exist", options: ["--profile", "{root}/missing-{u}.toml"], mentions: ["missing-{u}.toml"]),
        Case(testDescription: "a workspace that does not exist", options: ["--workspace", "{root}/no-workspace-{u}"], mentions: ["no-workspace-{u}"]),
        Case(testDescription: "a --rw path that does not exist", options: ["--rw", "{root}/no-rw-{u}"], mentions: ["no-rw-{u}"]),
        Case(testDescription: "the same path both --rw and --ro", options: ["--rw", "{root}/outside", "--ro", "{root}/outside"], mentions: ["{root}/outside"]),
        Case(testDescription: "an unknown backend", options: ["--backend", "chroot-{u}"], mentions: ["chroot-{u}"]),
    ]

    @Test("Bad input exits 125 with one line on stderr and starts nothing", arguments: cases)
    func badInput(_ c: Case) throws {
        let f = try Fixture(.root)
        func fill(_ text: String) -> String {
            text.replacingOccurrences(of: "{ws}", with: f.workspace)
                .replacingOccurrences(of: "{root}", with: f.root)
                .replacingOccurrences(of: "{u}", with: f.unique)
        }
        let marker = f.workspace + "/started-\(f.unique)"
        let args = ["run"] + c.options.map(fill) + (c.noCommand ? [] : ["--", try Binaries.probe(), "write", marker])
        let outcome = try airlock(args, env: f.environment(), cwd: f.workspace)
        #expect(outcome.status == 125, "\(outcome)")
        #expect(outcome.signal == nil, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "expected exactly one line on stderr\n\(outcome)")
        for mention in c.mentions.map(fill) {
            #expect(outcome.stderr.contains(mention), "stderr should name \(mention)\n\(outcome)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran anyway\n\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
    }

    @Test("Also with `run --` and nothing after it")
    func emptyCommandAfterDashes() throws {
        let f = try Fixture(.root)
        let outcome = try airlock(["run", "--"], env: f.environment(), cwd: f.workspace)
        #expect(outcome.status == 125, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "expected exactly one line on stderr\n\(outcome)")
    }

    @Test("A profile with an unknown key is refused, naming the file, the line and the key")
    func malformedProfile() throws {
        let f = try Fixture(.root)
        let profile = f.root + "/broken-\(f.unique).toml"
        try f.write(profile, """
            # A profile with a typo on line 4.
            [sandbox]
            network = true
            netwrok_mode = "off"
            """)
        let marker = f.workspace + "/started-\(f.unique)"
        let outcome = try airlock(["run", "--profile", profile, "--", try Binaries.probe(), "write", marker],
                                  env: f.environment(), cwd: f.workspace)
        #expect(outcome.status == 125, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "expected exactly one line on stderr\n\(outcome)")
        #expect(outcome.stderr.contains(profile), "stderr should name the file\n\(outcome)")
        #expect(outcome.stderr.contains("\(profile):4") || outcome.stderr.contains("line 4"),
                "stderr should name line 4\n\(outcome)")
        #expect(outcome.stderr.contains("netwrok_mode"), "stderr should name the key\n\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran anyway\n\(outcome)")
    }

    @Test("As uid 65534 too, bad input is 125 and starts nothing", .enabled(if: geteuid() == 0))
    func badInputUnprivileged() throws {
        let f = try Fixture(SandboxConfig(backend: .namespaces, asNobody: true))
        let marker = f.workspace + "/started-\(f.unique)"
        let outcome = try airlock(["run", "--workspace", f.root + "/nope", "--", try Binaries.probe(), "write", marker],
                                  env: f.environment(), cwd: f.workspace, user: nobody)
        #expect(outcome.status == 125, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: marker), "\(outcome)")
    }
}
