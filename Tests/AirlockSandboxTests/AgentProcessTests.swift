import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the agent process looks like from inside: its exit status, environment, descriptors,
/// session, directory and PID namespace.
@Suite struct AgentProcessTests {
    @Test("The agent's exit status passes through, and a signal death becomes 128+N", arguments: SandboxConfig.all)
    func exitStatusPassesThrough(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let probe = try Binaries.probe()
        let cases: [(command: [String], status: Int32)] = [
            ([probe, "exit", "0"], 0),
            ([probe, "exit", "3"], 3),
            ([probe, "exit", "42"], 42),
            ([probe, "signal", "15"], 143),
            ([probe, "signal", "9"], 137),
            (["/bin/sh", "-c", "kill -TERM $$"], 143),
        ]
        for (command, status) in cases {
            let outcome = try s.run(command)
            #expect(outcome.status == status, "\(command.joined(separator: " ")) should give \(status)\n\(outcome)")
            #expect(outcome.signal == nil, "airlock itself died instead of passing the status on\n\(outcome)")
        }
    }

    @Test("A command that cannot be found gives 127 and one that cannot be run gives 126", arguments: SandboxConfig.all)
    func missingAndNotExecutable(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        try s.write(s.workspace + "/not-executable.sh", "#!/bin/sh\necho ran\n", mode: 0o644)
        let cases: [(command: [String], status: Int32)] = [
            (["airlock-e2e-no-such-command-\(s.unique)"], 127),
            ([s.workspace + "/no-such-file"], 127),
            ([s.workspace + "/not-executable.sh"], 126),
            ([s.workspace], 126),
        ]
        for (command, status) in cases {
            let outcome = try s.run(command)
            #expect(outcome.status == status, "\(command[0]) should give \(status)\n\(outcome)")
            #expect(!outcome.stdout.contains("ran"))
            #expect(!outcome.stderr.isEmpty, "airlock should say why \(command[0]) did not run\n\(outcome)")
        }
    }

    @Test("Secrets are scrubbed from the environment unless passed with --env-pass", arguments: SandboxConfig.all)
    func environmentIsScrubbed(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let scrubbed = [
            "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET",
            "GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG", "MY_PASSWORD", "OPENAI_API_KEY", "NPM_TOKEN",
            "DB_CREDENTIAL", "APP_SECRET_VALUE",
        ]
        var env: [String: String] = [:]
        for name in scrubbed { env[name] = "\(s.secret)-\(name)" }
        env["GITHUB_TOKEN"] = "passed-\(s.unique)"
        env["EDITOR"] = "vi"
        let outcome = try s.run([try Binaries.probe(), "env"], options: ["--env-pass", "GITHUB_TOKEN"], env: env)
        #expect(outcome.status == 0, "\(outcome)")
        var seen: [String: String] = [:]
        for line in outcome.lines where line.hasPrefix("env: ") {
            let pair = line.dropFirst(5)
            guard let eq = pair.firstIndex(of: "=") else { continue }
            seen[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        #expect(!seen.isEmpty, "\(outcome)")
        for name in scrubbed { #expect(seen[name] == nil, "\(name) reached the agent\n\(outcome)") }
        #expect(!outcome.stdout.contains(s.secret), "a scrubbed value reached the agent\n\(outcome)")
        #expect(seen["GITHUB_TOKEN"] == "passed-\(s.unique)", "--env-pass GITHUB_TOKEN did not pass it\n\(outcome)")
        #expect(seen["FOO"] == "bar", "\(outcome)")
        #expect(seen["LANG"] == "C.UTF-8", "\(outcome)")
        #expect(seen["EDITOR"] == "vi", "\(outcome)")
        #expect(seen["HOME"] == s.home, "HOME is not the operator's\n\(outcome)")
        #expect(seen["PATH"] != nil, "\(outcome)")
    }

    @Test("Scrubbed secrets cannot be recovered from any process's /proc/PID/environ", arguments: SandboxConfig.all)
    func environmentOfOtherProcessesIsUnreadable(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let value = "\(s.secret)-environ"
        // airlock itself (and setpriv before it) carry the value; the agent must not reach it.
        let run = try s.probe(["environ-scan \(value)"], env: ["AWS_SECRET_ACCESS_KEY": value])
        #expect(run["environ-scan \(value)"].description.hasPrefix("clean"), "\(run)")
    }

    @Test("The agent has no descriptors beyond 0, 1 and 2, even when airlock inherits more", arguments: SandboxConfig.all)
    func noLeakedDescriptors(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let outcome = try s.run([try Binaries.probe(), "fds"], extraDescriptors: [3, 5, 9])
        #expect(outcome.lines == ["fds: 0 1 2"], "\(outcome)")
    }

    @Test("The agent leads its own session and has no controlling terminal", arguments: SandboxConfig.all)
    func agentIsSessionLeader(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let run = try s.probe(["sid", "tty"])
        #expect(run["sid"].isOK, "\(run)")
        #expect(!run["tty"].isOK, "\(run)")
    }

    @Test("The agent starts in the workspace, or in the subdirectory of it airlock was started from",
          arguments: SandboxConfig.all)
    func workingDirectory(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let sub = s.workspace + "/src/module"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        if let user = config.user { try chownTree(s.workspace, to: user) }

        let plain = try s.probe(["cwd"])
        #expect(plain["cwd"] == .ok(s.workspace), "\(plain)")

        let fromSub = try s.probe(["cwd", "write \(s.workspace)/top-level"], options: ["--workspace", s.workspace], cwd: sub)
        #expect(fromSub["cwd"] == .ok(sub), "\(fromSub)")
        #expect(fromSub["write \(s.workspace)/top-level"].isOK, "the whole workspace should be writable\n\(fromSub)")

        // Started outside the workspace: the agent starts at the workspace's top.
        let fromOutside = try s.probe(["cwd"], options: ["--workspace", s.workspace], cwd: s.outside)
        #expect(fromOutside["cwd"] == .ok(s.workspace), "\(fromOutside)")
    }

    @Test("The namespaces backend gives the agent its own PID namespace with a fresh /proc",
          arguments: SandboxConfig.namespaces)
    func pidNamespace(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let run = try s.probe(["pid"])
        let fields = Dictionary(uniqueKeysWithValues: run["pid"].description.split(separator: " ").compactMap { word -> (String, String)? in
            let parts = word.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        })
        let pid = Int(fields["pid"] ?? "") ?? -1
        #expect(pid > 0 && pid < 10, "the agent does not look like it is in a new PID namespace\n\(run)")
        #expect(fields["procself"] == fields["pid"], "/proc is not the sandbox's own\n\(run)")
        #expect((Int(fields["processes"] ?? "") ?? 1000) < 10, "host processes are visible in /proc\n\(run)")
    }

    @Test("An orphaned grandchild is reaped", arguments: SandboxConfig.all)
    func orphansAreReaped(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let run = try s.probe(["orphan"])
        #expect(run["orphan"] == .other("reaped"), "\(run)")
    }

    @Test("Forks, threads' usual syscalls and local sockets still work", arguments: SandboxConfig.all)
    func ordinaryOperationsWork(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let run = try s.probe(["clone-plain", "socket-unix", "personality-linux", "read /etc/passwd", "list /usr/bin"])
        for check in run.checks { #expect(run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        let shell = try s.run(["/bin/sh", "-c", "echo hello | tr a-z A-Z; ls / >/dev/null && echo listed"])
        #expect(shell.lines == ["HELLO", "listed"], "\(shell)")
    }
}
