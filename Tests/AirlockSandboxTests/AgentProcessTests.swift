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
        let f = try Fixture(config)
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
            let outcome = try f.run(command)
            #expect(outcome.status == status, "\(command.joined(separator: " ")) should give \(status)\n\(outcome)")
            #expect(outcome.signal == nil, "airlock itself died instead of passing the status on\n\(outcome)")
        }
    }

    @Test("A command that cannot be found gives 127 and one that cannot be run gives 126", arguments: SandboxConfig.all)
    func missingAndNotExecutable(config: SandboxConfig) throws {
        let f = try Fixture(config)
        try f.write(f.workspace + "/not-executable.sh", "#!/bin/sh\necho ran\n", mode: 0o644)
        let cases: [(command: [String], status: Int32)] = [
            (["airlock-e2e-no-such-command-\(f.unique)"], 127),
            ([f.workspace + "/no-such-file"], 127),
            ([f.workspace + "/not-executable.sh"], 126),
            ([f.workspace], 126),
        ]
        for (command, status) in cases {
            let outcome = try f.run(command)
            #expect(outcome.status == status, "\(command[0]) should give \(status)\n\(outcome)")
            #expect(!outcome.stdout.contains("ran"))
            #expect(!outcome.stderr.isEmpty, "airlock should say why \(command[0]) did not run\n\(outcome)")
        }
    }

    @Test("Secrets are scrubbed from the environment unless passed with --env-pass", arguments: SandboxConfig.all)
    func environmentIsScrubbed(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let scrubbed = [
            "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET",
            "GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG", "MY_PASSWORD", "OPENAI_API_KEY", "NPM_TOKEN",
            "DB_CREDENTIAL", "APP_SECRET_VALUE",
        ]
        var env: [String: String] = [:]
        for name in scrubbed { env[name] = "\(f.secret)-\(name)" }
        env["GITHUB_TOKEN"] = "passed-\(f.unique)"
        env["EDITOR"] = "vi"
        let outcome = try f.run([try Binaries.probe(), "env"], options: ["--env-pass", "GITHUB_TOKEN"], env: env)
        #expect(outcome.status == 0, "\(outcome)")
        var seen: [String: String] = [:]
        for line in outcome.lines where line.hasPrefix("env: ") {
            let pair = line.dropFirst(5)
            guard let eq = pair.firstIndex(of: "=") else { continue }
            seen[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        #expect(!seen.isEmpty, "\(outcome)")
        // The AWS keys are the broker's: the agent holds placeholders (AKIAAIRLOCK…), never these.
        let placeholders = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        for name in scrubbed where !placeholders.contains(name) { #expect(seen[name] == nil, "\(name) reached the agent\n\(outcome)") }
        #expect(seen["AWS_ACCESS_KEY_ID"]?.hasPrefix("AKIAAIRLOCK") == true, "\(outcome)")
        #expect(seen["AWS_SECRET_ACCESS_KEY"].map { $0.count == 40 } == true, "\(outcome)")
        #expect(!outcome.stdout.contains(f.secret), "a scrubbed value reached the agent\n\(outcome)")
        #expect(seen["GITHUB_TOKEN"] == "passed-\(f.unique)", "--env-pass GITHUB_TOKEN did not pass it\n\(outcome)")
        #expect(seen["FOO"] == "bar", "\(outcome)")
        #expect(seen["LANG"] == "C.UTF-8", "\(outcome)")
        #expect(seen["EDITOR"] == "vi", "\(outcome)")
        #expect(seen["HOME"] == f.home, "HOME is not the operator's\n\(outcome)")
        #expect(seen["PATH"] != nil, "\(outcome)")
    }

    @Test("Scrubbed secrets cannot be recovered from any process's /proc/PID/environ", arguments: SandboxConfig.all)
    func environmentOfOtherProcessesIsUnreadable(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let value = "\(f.secret)-environ"
        // airlock itself (and setpriv before it) carry the value; the agent must not reach it.
        let run = try f.probe(["environ-scan \(value)"], env: ["AWS_SECRET_ACCESS_KEY": value])
        #expect(run["environ-scan \(value)"].description.hasPrefix("clean"), "\(run)")
    }

    @Test("The agent has no descriptors beyond 0, 1 and 2, even when airlock inherits more", arguments: SandboxConfig.all)
    func noLeakedDescriptors(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let outcome = try f.run([try Binaries.probe(), "fds"], extraDescriptors: [3, 5, 9])
        #expect(outcome.lines == ["fds: 0 1 2"], "\(outcome)")
    }

    @Test("A file airlock's stdout was redirected to can be reopened as /dev/stdout (for writing only, where Landlock can say so)",
          arguments: SandboxConfig.all)
    func redirectedStdoutCanBeReopened(config: SandboxConfig) throws {
        let f = try Fixture(config)
        // In a hidden directory outside the workspace: neither writable nor readable by its name.
        let out = f.root + "/private/out.log"
        try f.write(out, "")
        chmod(f.root + "/private", 0o777)
        chmod(out, 0o666)
        let script = "echo first; echo again >> /dev/stdout; echo write=$? >&2; head -c 1 < /dev/stdout > /dev/null 2>&1; echo read=$? >&2"
        let argv = asUser(f.config.user, ["/bin/sh", "-c", "exec \"$0\" \"$@\" > " + shellQuoted(out), try Binaries.airlock()]
                          + f.runArguments(["/bin/sh", "-c", script], options: ["--hide", f.root + "/private"]))
        let outcome = try Subprocess(argv, environment: f.environment(), directory: f.workspace).wait(timeout: 30)
        #expect(outcome.stderr.contains("write=0"), "\(outcome)")
        // The Landlock backend reads the host through rules that leave hidden paths out, so the file
        // opened write-only stays unreadable. (The namespaces backend's Landlock layer reads the whole
        // host and hides with stand-in mounts, which a reopen through the operator's own descriptor
        // does not cross: that file is readable there, as the operator handed it over.)
        if config.backend == .landlock {
            #expect(outcome.stderr.contains("read=2"), "opened write-only, the file must not become readable by name\n\(outcome)")
        }
        #expect((try? String(contentsOfFile: out, encoding: .utf8)) == "first\nagain\n")
    }

    @Test("The agent leads its own session and has no controlling terminal", arguments: SandboxConfig.all)
    func agentIsSessionLeader(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let sid = try f.probeDirectly("sid")
        #expect(sid["sid"].isOK, "\(sid)")
        let tty = try f.probeDirectly("tty")
        #expect(!tty["tty"].isOK, "\(tty)")
    }

    @Test("The agent starts in the workspace, or in the subdirectory of it airlock was started from",
          arguments: SandboxConfig.all)
    func workingDirectory(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let sub = f.workspace + "/src/module"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        if let user = config.user { try chownTree(f.workspace, to: user) }

        let plain = try f.probe(["cwd"])
        #expect(plain["cwd"] == .ok(f.workspace), "\(plain)")

        let fromSub = try f.probe(["cwd", "write \(f.workspace)/top-level"], options: ["--workspace", f.workspace], cwd: sub)
        #expect(fromSub["cwd"] == .ok(sub), "\(fromSub)")
        #expect(fromSub["write \(f.workspace)/top-level"].isOK, "the whole workspace should be writable\n\(fromSub)")

        // Started outside the workspace: the agent starts at the workspace's top.
        let fromOutside = try f.probe(["cwd"], options: ["--workspace", f.workspace], cwd: f.outside)
        #expect(fromOutside["cwd"] == .ok(f.workspace), "\(fromOutside)")
    }

    @Test("The namespaces backend gives the agent its own PID namespace with a fresh /proc",
          arguments: SandboxConfig.namespaces)
    func pidNamespace(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let run = try f.probeDirectly("pid")
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
        let f = try Fixture(config)
        let run = try f.probe(["orphan"])
        #expect(run["orphan"] == .other("reaped"), "\(run)")
    }

    @Test("Forks, threads' usual syscalls and local sockets still work", arguments: SandboxConfig.all)
    func ordinaryOperationsWork(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let run = try f.probe(["clone-plain", "socket-unix", "personality-linux", "read /etc/passwd", "list /usr/bin"])
        for check in run.checks { #expect(run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        let shell = try f.run(["/bin/sh", "-c", "echo hello | tr a-z A-Z; ls / >/dev/null && echo listed"])
        #expect(shell.lines == ["HELLO", "listed"], "\(shell)")
    }

    @Test("Standard input, output and error are the operator's", arguments: SandboxConfig.all)
    func standardStreamsPassThrough(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let input = f.root + "/stdin-\(f.unique)"
        try f.write(input, "line one\nline two\n")
        let outcome = try f.run(["/bin/sh", "-c", "cat; echo to-stderr >&2"], stdin: input)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout == "line one\nline two\n", "\(outcome)")
        #expect(outcome.stderr.contains("to-stderr"), "\(outcome)")
    }

    @Test("Without --backend, airlock picks a backend that confines the agent",
          arguments: SandboxConfig.namespaces)
    func defaultBackendConfines(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let checks = ["read \(f.sshKey)", "write \(f.outside)/existing.txt", "ptrace", "write \(f.workspace)/ok"]
        let outcome = try airlock(["run", "--", try Binaries.probe(), "each"] + checks,
                                  env: f.environment(), cwd: f.workspace, user: config.user)
        let run = ProbeRun(checks: checks, outcome: outcome)
        #expect(run.complete, "\(run)")
        #expect(!outcome.stdout.contains(f.secret), "\(run)")
        for check in checks.dropLast() { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect(run["write \(f.workspace)/ok"].isOK, "\(run)")
    }

    @Test("The agent can neither signal airlock nor open its memory", arguments: SandboxConfig.all)
    func cannotReachAirlock(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let pidFile = f.workspace + "/airlock.pid"
        // The agent waits until the test has written airlock's pid, then goes for it.
        let script = #"while [ ! -s "$1" ]; do sleep 0.02; done; pid=$(cat "$1"); exec "$0" each "kill $pid 0" "procmem $pid""#
        let process = try startAirlock(f.runArguments(["/bin/sh", "-c", script, try Binaries.probe(), pidFile]),
                                       env: f.environment(), cwd: f.workspace, user: config.user)
        let pid = process.pid
        // As uid 65534 the process starts as setpriv (root): wait until it is airlock, as that user.
        for _ in 0..<250 {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"))?.hasSuffix("/airlock") == true { break }
            usleep(20_000)
        }
        // Unconfined, the same user can do both to that very process.
        let bare = try f.bare(["kill \(pid) 0", "procmem \(pid)"])
        for check in bare.checks { #expect(bare[check].isOK, "bare \(check) → \(bare[check])\n\(bare)") }
        try f.write(pidFile + ".tmp", "\(pid)\n")
        #expect(rename(pidFile + ".tmp", pidFile) == 0)
        let run = ProbeRun(checks: ["kill \(pid) 0", "procmem \(pid)"], outcome: process.wait(timeout: 30))
        #expect(run.complete, "\(run)")
        for check in run.checks { #expect(!run[check].isOK, "\(check) → \(run[check]): the agent reached airlock\n\(run)") }
    }

}
