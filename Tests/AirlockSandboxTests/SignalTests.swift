import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ending airlock ends the sandbox: nothing the agent started outlives it.
@Suite struct SignalTests {
    /// An agent of two tagged sleepers: one in the background, one in the foreground.
    static func sleepers(_ tag: String) throws -> [String] {
        ["/bin/sh", "-c", "\"$0\" sleep 30 \(tag) & exec \"$0\" sleep 30 \(tag)", try Binaries.probe()]
    }

    @Test("SIGTERM to airlock makes it exit 143 at once and leaves no agent process behind", arguments: SandboxConfig.all)
    func sigtermEndsEverything(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let tag = "airlock-e2e-tag-\(f.unique)"
        defer { killTagged(tag) }
        let process = try startAirlock(f.runArguments(try Self.sleepers(tag)), env: f.environment(),
                                       cwd: f.workspace, user: config.user)
        guard waitUntil(timeout: 10, { taggedProcesses(tag).count == 2 || process.poll() != nil }),
              process.poll() == nil else {
            Issue.record("the agent did not start\n\(process.wait(timeout: 1))")
            return
        }
        let start = Date()
        process.send(SIGTERM)
        let outcome = process.wait(timeout: 10)
        let elapsed = Date().timeIntervalSince(start)
        #expect(outcome.status == 143, "\(outcome)")
        #expect(elapsed < 3, "airlock took \(elapsed)s to exit after SIGTERM\n\(outcome)")
        let gone = waitUntil(timeout: 3) { taggedProcesses(tag).isEmpty }
        #expect(gone, "agent processes outlived airlock: \(describeProcesses(taggedProcesses(tag)))")
    }

    /// Like `sleepers`, but every process ignores `signal` (an ignored signal stays ignored across exec).
    static func stubbornSleepers(_ tag: String, ignoring signal: String) throws -> [String] {
        ["/bin/sh", "-c", "trap '' \(signal); \"$0\" sleep 30 \(tag) & exec \"$0\" sleep 30 \(tag)", try Binaries.probe()]
    }

    /// Starts airlock with `options` on the agent `command`; nil (and an issue) if the agent's two
    /// tagged processes did not show up.
    static func startAgent(_ f: Fixture, _ command: [String], tag: String, options: [String] = []) throws -> Subprocess? {
        let process = try startAirlock(f.runArguments(command, options: options), env: f.environment(),
                                       cwd: f.workspace, user: f.config.user)
        guard waitUntil(timeout: 10, { taggedProcesses(tag).count == 2 || process.poll() != nil }),
              process.poll() == nil else {
            Issue.record("the agent did not start\n\(process.wait(timeout: 1))")
            return nil
        }
        return process
    }

    @Test("An agent that ignores SIGTERM is killed, with everything it started, once --stop-timeout is over; airlock exits 143",
          arguments: SandboxConfig.all)
    func stopTimeoutKillsTheSandbox(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let tag = "airlock-e2e-tag-\(f.unique)"
        defer { killTagged(tag) }
        guard let process = try Self.startAgent(f, try Self.stubbornSleepers(tag, ignoring: "TERM"), tag: tag,
                                                options: ["--stop-timeout", "1"]) else { return }
        let start = Date()
        process.send(SIGTERM)
        let outcome = process.wait(timeout: 10)
        let elapsed = Date().timeIntervalSince(start)
        #expect(outcome.status == 143, "\(outcome)")
        #expect(elapsed > 0.8 && elapsed < 5, "airlock exited \(elapsed)s after SIGTERM with --stop-timeout 1\n\(outcome)")
        #expect(outcome.stderr.contains("did not end"), "airlock should say why it killed the sandbox\n\(outcome)")
        let gone = waitUntil(timeout: 3) { taggedProcesses(tag).isEmpty }
        #expect(gone, "agent processes outlived airlock: \(describeProcesses(taggedProcesses(tag)))")
    }

    @Test("A second SIGINT kills the sandbox at once, whatever --stop-timeout says; airlock exits 130",
          arguments: SandboxConfig.all)
    func secondInterruptKillsAtOnce(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let tag = "airlock-e2e-tag-\(f.unique)"
        defer { killTagged(tag) }
        guard let process = try Self.startAgent(f, try Self.stubbornSleepers(tag, ignoring: "INT"), tag: tag,
                                                options: ["--stop-timeout", "30"]) else { return }
        let start = Date()
        process.send(SIGINT)
        // Two SIGINTs pending at once would be one: let airlock take the first.
        usleep(300_000)
        #expect(process.poll() == nil, "airlock ended at the first SIGINT\n\(process.wait(timeout: 1))")
        process.send(SIGINT)
        let outcome = process.wait(timeout: 10)
        let elapsed = Date().timeIntervalSince(start)
        #expect(outcome.status == 130, "\(outcome)")
        #expect(elapsed < 5, "airlock took \(elapsed)s to exit after the second SIGINT\n\(outcome)")
        let gone = waitUntil(timeout: 3) { taggedProcesses(tag).isEmpty }
        #expect(gone, "agent processes outlived airlock: \(describeProcesses(taggedProcesses(tag)))")
    }

    @Test("A --stop-timeout that is not a duration is refused with one line naming it, and nothing starts")
    func badStopTimeoutIsRefused() throws {
        let f = try Fixture(.root)
        let marker = f.workspace + "/started-\(f.unique)"
        let outcome = try f.run([try Binaries.probe(), "write", marker], options: ["--stop-timeout", "abc"])
        // 125 like all bad input to `airlock run` (argument-parser would say 64): the agent owns the rest.
        #expect(outcome.status == 125, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "expected exactly one line on stderr\n\(outcome)")
        #expect(outcome.stderr.contains("--stop-timeout") && outcome.stderr.contains("abc"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran anyway\n\(outcome)")
    }

    @Test("If airlock is killed, the agent's processes die too", arguments: SandboxConfig.all)
    func sigkillEndsEverything(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let tag = "airlock-e2e-tag-\(f.unique)"
        defer { killTagged(tag) }
        let process = try startAirlock(f.runArguments(try Self.sleepers(tag)), env: f.environment(),
                                       cwd: f.workspace, user: config.user)
        guard waitUntil(timeout: 10, { taggedProcesses(tag).count == 2 || process.poll() != nil }),
              process.poll() == nil else {
            Issue.record("the agent did not start\n\(process.wait(timeout: 1))")
            return
        }
        process.send(SIGKILL)
        let outcome = process.wait(timeout: 10)
        #expect(outcome.signal == SIGKILL, "\(outcome)")
        let gone = waitUntil(timeout: 3) { taggedProcesses(tag).isEmpty }
        #expect(gone, "agent processes outlived airlock: \(describeProcesses(taggedProcesses(tag)))")
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; whether it held.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if condition() { return true }
        usleep(20_000)
    } while Date() < deadline
    return condition()
}

/// Live airlock-probe processes (anywhere on the host) whose command line contains `tag`.
func taggedProcesses(_ tag: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> pid_t? in
        guard let pid = pid_t(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
        let argv = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let first = argv.first, first.hasSuffix("/airlock-probe") || first == "airlock-probe",
              argv.contains(tag) else { return nil }
        return pid
    }
}

func describeProcesses(_ pids: [pid_t]) -> String {
    pids.map { pid in
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "?"
        return "[\(stat.trimmingCharacters(in: .whitespacesAndNewlines))]"
    }.joined(separator: ", ")
}

/// Cleans up after a failed test: SIGKILL every tagged process.
func killTagged(_ tag: String) {
    for pid in taggedProcesses(tag) { kill(pid, SIGKILL) }
}
