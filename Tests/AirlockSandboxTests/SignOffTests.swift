import Foundation
import Testing

/// Held operations end to end: a real sandbox, a real notify listener, the real queue file, real
/// SSH keys signing with ssh-keygen.
@Suite(.serialized)
struct SignOffTests {
    /// Two approvers' keys and a third that is not listed, with the allowed_signers file.
    final class Approvers: @unchecked Sendable {
        let dir: String
        var allowedSigners: String { dir + "/allowed_signers" }
        func key(_ name: String) -> String { dir + "/" + name }

        /// `extra`: more listed approvers' names.
        init(in root: String, extra: [String] = []) throws {
            dir = root + "/approvers"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var lines: [String] = []
            for name in ["alice", "bob", "mallory"] + extra {
                let made = try Subprocess(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key(name)],
                                          environment: ["PATH": "/usr/bin:/bin"], directory: dir).wait(timeout: 30)
                #expect(made.status == 0, "ssh-keygen: \(made)")
                let pub = try String(contentsOfFile: key(name) + ".pub", encoding: .utf8).split(separator: " ")
                if name != "mallory" { lines.append("\(name) namespaces=\"airlock\" \(pub[0]) \(pub[1])") }
            }
            try lines.joined(separator: "\n").appending("\n").write(toFile: allowedSigners, atomically: true, encoding: .utf8)
        }
    }

    func queuePath(_ fixture: Fixture) -> String { fixture.home + "/.local/state/airlock/queue.jsonl" }

    func queueCLI(_ fixture: Fixture, _ approvers: Approvers, _ args: [String]) throws -> Outcome {
        try airlock(args + ["--queue", queuePath(fixture), "--approvers", approvers.allowedSigners],
                    env: ["PATH": "/usr/bin:/bin", "HOME": fixture.root], cwd: fixture.root)
    }

    /// Waits for a pending request (other than `seen`) to appear in the queue; returns its JSON object.
    func waitForHeld(_ fixture: Fixture, _ approvers: Approvers, timeout: Double = 15, excluding seen: Set<String> = []) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json", "--pending"])
            if listed.status == 0, let data = listed.stdout.data(using: .utf8),
               let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
               let first = rows.first(where: { !seen.contains($0["id"] as? String ?? "") }) {
                return first
            }
            usleep(100_000)
        }
        return nil
    }

    /// The first pending request; none within the timeout kills the agent and records why.
    func heldOrKill(_ fixture: Fixture, _ approvers: Approvers, _ agent: Subprocess) throws -> [String: Any]? {
        if let held = try waitForHeld(fixture, approvers) { return held }
        agent.send(SIGKILL)
        Issue.record("no request was held: \(agent.wait(timeout: 5))")
        return nil
    }

    func approve(_ fixture: Fixture, _ approvers: Approvers, _ id: String, as name: String) throws -> Outcome {
        try queueCLI(fixture, approvers, ["approve", id, "--key", approvers.key(name)])
    }

    func startAgent(_ fixture: Fixture, _ approvers: Approvers, _ script: String, options: [String] = []) throws -> Subprocess {
        try startAirlock(fixture.runArguments(["/bin/sh", "-c", script], options: ["--approvers", approvers.allowedSigners] + options),
                         env: fixture.environment(), cwd: fixture.workspace, user: fixture.config.user)
    }

    @Test("a held delete goes ahead after two distinct listed approvals, and the agent sees success",
          arguments: SandboxConfig.all)
    func twoApprovalsLetADeleteThrough(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "TOKEN=precious\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, "rm .env; echo rm=$?")
        guard let held = try heldOrKill(fixture, approvers, agent) else { return }
        #expect(held["kind"] as? String == "delete")
        #expect(held["path"] as? String == fixture.workspace + "/.env")
        #expect(held["rule"] as? String == "dotenv files")
        let id = try #require(held["id"] as? String)

        // None of these counts: a key not listed, and a listed key twice.
        // Each approver is told when their line counts for nothing (exit 1, one line why).
        let unlisted = try approve(fixture, approvers, id, as: "mallory")
        #expect(unlisted.status == 1 && unlisted.stderr.contains("counts for nothing: not listed"), "\(unlisted)")
        let first = try approve(fixture, approvers, id, as: "alice")
        #expect(first.status == 0 && first.stdout.contains("1/2 approvals"), "\(first)")
        let again = try approve(fixture, approvers, id, as: "alice")
        #expect(again.status == 1 && again.stderr.contains("counts for nothing: duplicate key"), "\(again)")
        usleep(300_000)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "deleted before quorum")
        #expect(agent.poll() == nil, "the agent's call returned before quorum")

        _ = try approve(fixture, approvers, id, as: "bob")
        let outcome = agent.wait(timeout: 15)
        #expect(outcome.lines.contains("rm=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let shown = try queueCLI(fixture, approvers, ["queue", "show", id])
        #expect(shown.stdout.contains("state:     resolved (2/2 approvals)"), "\(shown)")
        #expect(shown.stdout.contains("not counted: approve by") && shown.stdout.contains("duplicate"), "\(shown)")
        let verified = try queueCLI(fixture, approvers, ["queue", "verify"])
        #expect(verified.status == 0, "\(verified)")
    }

    @Test("a denied hold fails the call with EPERM and changes nothing", arguments: [SandboxConfig.root])
    func denialFailsWithEPERM(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/prod.tfstate", "{\"serial\": 7}\n")
        let agent = try startAgent(fixture, approvers, "true > prod.tfstate; echo truncate=$?; cat prod.tfstate")
        let held = try #require(try waitForHeld(fixture, approvers))
        #expect(held["kind"] as? String == "truncate")
        let id = try #require(held["id"] as? String)
        let denied = try queueCLI(fixture, approvers, ["deny", id, "--key", approvers.key("alice"), "--reason", "no"])
        #expect(denied.status == 0, "\(denied)")
        let outcome = agent.wait(timeout: 15)
        #expect(outcome.stderr.contains("Operation not permitted"), "\(outcome)")
        #expect(outcome.lines.contains("{\"serial\": 7}"), "\(outcome)")
        #expect(try String(contentsOfFile: fixture.workspace + "/prod.tfstate", encoding: .utf8) == "{\"serial\": 7}\n")
    }

    @Test("a hard link to a protected file is held as a link naming both paths, and made once two approve",
          arguments: [SandboxConfig.root] + SandboxConfig.landlock)
    func hardLinkIsHeldWithBothNames(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, "\(try Binaries.probe()) link .env alias; echo done")
        guard let held = try heldOrKill(fixture, approvers, agent) else { return }
        #expect(held["kind"] as? String == "link", "\(held)")
        #expect(held["path"] as? String == fixture.workspace + "/.env", "\(held)")
        #expect(held["path2"] as? String == fixture.workspace + "/alias", "\(held)")
        let id = try #require(held["id"] as? String)
        _ = try approve(fixture, approvers, id, as: "alice")
        _ = try approve(fixture, approvers, id, as: "bob")
        let outcome = agent.wait(timeout: 15)
        #expect(outcome.lines.contains("link: ok"), "\(outcome)")
        let original = try FileManager.default.attributesOfItem(atPath: fixture.workspace + "/.env")
        let alias = try FileManager.default.attributesOfItem(atPath: fixture.workspace + "/alias")
        #expect(original[.systemFileNumber] as? Int == alias[.systemFileNumber] as? Int)
    }

    @Test("chmod and chown of a protected file fail with EPERM, also of one made after the start and through a symlink; an unprotected file's go through",
          arguments: SandboxConfig.all)
    func metadataOfProtectedFilesIsRefused(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        try fixture.write(fixture.workspace + "/notes.txt", "plain\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, """
            while [ ! -e late.tfstate ]; do sleep 0.05; done
            ln -s .env env-link
            chmod 000 .env; echo chmod=$?
            chmod 000 env-link; echo link=$?
            chmod 000 late.tfstate; echo late=$?
            chown "$(id -u)" .env; echo chown=$?
            chmod 600 notes.txt; echo plain=$?
            chown "$(id -u)" notes.txt; echo plainchown=$?
            """)
        usleep(300_000)
        try fixture.write(fixture.workspace + "/late.tfstate", "{}\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let outcome = agent.wait(timeout: 20)
        for line in ["chmod=1", "link=1", "late=1", "chown=1", "plain=0", "plainchown=0"] {
            #expect(outcome.lines.contains(line), "\(line)\n\(outcome)")
        }
        #expect(outcome.stderr.contains("the mode, owner and extended attributes of a protected file are not changed"), "\(outcome)")
        func mode(_ name: String) throws -> Int {
            try FileManager.default.attributesOfItem(atPath: fixture.workspace + "/" + name)[.posixPermissions] as? Int ?? -1
        }
        #expect(try mode(".env") != 0 && mode("late.tfstate") != 0)
        #expect(try mode("notes.txt") == 0o600)
    }

    @Test("a directory, symlink or FIFO made at a protected name fails with EPERM; at another name it is made",
          arguments: SandboxConfig.all)
    func creationAtProtectedNamesIsRefused(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, """
            mkdir .env; echo mkdir=$?
            ln -s "$HOME/elsewhere" prod.tfstate; echo symlink=$?
            mkfifo pipe.tfstate; echo fifo=$?
            mkdir plain && ln -s plain plain-link && mkfifo plain-fifo; echo plain=$?
            """)
        let outcome = agent.wait(timeout: 20)
        for line in ["mkdir=1", "symlink=1", "fifo=1", "plain=0"] {
            #expect(outcome.lines.contains(line), "\(line)\n\(outcome)")
        }
        #expect(outcome.stderr.contains("no directory, symlink or device node is made at a protected path"), "\(outcome)")
        for name in [".env", "prod.tfstate", "pipe.tfstate"] {
            var st = stat()
            #expect(lstat(fixture.workspace + "/" + name, &st) != 0, "\(name) was made")
        }
    }

    @Test("a hold nobody answers expires and fails with EPERM", arguments: [SandboxConfig.root])
    func expiryFailsWithEPERM(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        try fixture.write(fixture.root + "/short.toml", "extends = \"default\"\n[signoff]\ntimeout = 2\n")
        let started = Date()
        let agent = try startAgent(fixture, approvers, "\(try Binaries.probe()) rename .env gone.env; echo mv=$?", options: ["--profile", fixture.root + "/short.toml"])
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("rename: errno 1 (EPERM)") && outcome.lines.contains("mv=1"), "\(outcome)")
        #expect(Date().timeIntervalSince(started) >= 2)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        #expect(listed.stdout.contains("\"state\" : \"resolved\""), "\(listed)")
    }

    @Test("a write through a symlink to a protected file is held where no read-only bind guards it: the Landlock backend, a file made after the start",
          arguments: [SandboxConfig.root] + SandboxConfig.landlock)
    func symlinkToProtectedFileIsHeld(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.root + "/short.toml", "extends = \"default\"\n[signoff]\ntimeout = 2\n")
        let probe = try Binaries.probe()
        let agent = try startAgent(fixture, approvers, """
            while [ ! -e .env ]; do sleep 0.05; done
            \(probe) symlink .env lnk; \(probe) write lnk; \(probe) symlink lnk lnk2; \(probe) write lnk2
            """, options: ["--profile", fixture.root + "/short.toml"])
        usleep(300_000)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.filter { $0 == "write: errno 1 (EPERM)" }.count == 2, "\(outcome)")
        #expect(try String(contentsOfFile: fixture.workspace + "/.env", encoding: .utf8) == "A=1\n")
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let escaped = (fixture.workspace + "/.env\"").replacingOccurrences(of: "/", with: "\\/")
        #expect(listed.stdout.contains(escaped), "the request names the file the link leads to\n\(listed)")
    }

    @Test("execs checked by the file they run: a memfd through /proc/self/fd, a re-exec of /proc/self/exe and a script whose interpreter is a script run; a destructive command line is held",
          arguments: [SandboxConfig.root])
    func memfdExecIsCheckedByItsFile(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.root + "/short.toml", "extends = \"default\"\n[signoff]\ntimeout = 2\n")
        try FileManager.default.createDirectory(atPath: fixture.workspace + "/.git/objects", withIntermediateDirectories: true)
        try fixture.write(fixture.workspace + "/memexec.py", """
            import os, sys
            fd = os.memfd_create("tool", 0)
            os.write(fd, open(sys.argv[1], "rb").read())
            os.execv(f"/proc/self/fd/{fd}", sys.argv[2:])
            """)
        // A script whose interpreter is itself a script (the kernel follows the chain).
        try fixture.write(fixture.workspace + "/inner", "#!/bin/sh\necho nested interpreter ok\n")
        try fixture.write(fixture.workspace + "/outer", "#!\(fixture.workspace)/inner\n")
        chmod(fixture.workspace + "/inner", 0o755)
        chmod(fixture.workspace + "/outer", 0o755)
        let agent = try startAgent(fixture, approvers, """
            ./outer
            python3 memexec.py /bin/echo echo ran from a memfd
            python3 -c 'import os; os.execv("/proc/self/exe", ["python3", "-c", "print(\\"re-exec ok\\")"])'
            python3 memexec.py /bin/rm rm -rf .git; echo rm=$?
            """, options: ["--profile", fixture.root + "/short.toml"])
        let outcome = agent.wait(timeout: 30)
        #expect(outcome.lines.contains("ran from a memfd") && outcome.lines.contains("re-exec ok"), "\(outcome)")
        #expect(outcome.lines.contains("nested interpreter ok"), "\(outcome)")
        // Held after its exec and never approved: it ends 126 before it ran anything.
        #expect(outcome.lines.contains("rm=126"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.git/objects"))
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        #expect(listed.stdout.contains("\"kind\" : \"exec\""), "the rm was held at its exec\n\(listed)")
    }

    @Test("killing airlock while a call is held fails the call and changes nothing", arguments: SandboxConfig.all)
    func killingTheSupervisorFailsClosed(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "KEEP=1\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, "rm -f .env; rm -f .env; echo after > marker-\(fixture.unique)")
        let held = try #require(try waitForHeld(fixture, approvers))
        let id = try #require(held["id"] as? String)
        agent.send(SIGKILL)
        _ = agent.wait(timeout: 10)
        usleep(300_000)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/marker-\(fixture.unique)"),
                "the sandbox went on after airlock died")

        // A dead airlock wrote nothing, but its lease is free: the next reader of the queue cancels
        // the request, and nobody can approve what nobody is left to carry out.
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed)")
        let row = try #require(rows.first { $0["id"] as? String == id }, "\(listed)")
        #expect(row["state"] as? String == "cancelled", "\(listed)")
        let reason = try #require(row["cancel_reason"] as? String, "\(listed)")
        #expect(reason.hasPrefix("airlock ended without closing it (sandbox "), "\(reason)")
        let approved = try approve(fixture, approvers, id, as: "alice")
        #expect(approved.status == 1, "\(approved)")
        #expect(approved.stderrLines == ["airlock: request \(id) was cancelled (\(reason)): there is nothing left to approve"], "\(approved)")
        let queue = try String(contentsOfFile: queuePath(fixture), encoding: .utf8)
        #expect(!queue.contains(#""event":"approve""#), "a refused approval was written\n\(queue)")
        #expect(queue.components(separatedBy: #""event":"cancel""#).count == 2, "one cancel, written once\n\(queue)")
        let verified = try queueCLI(fixture, approvers, ["queue", "verify"])
        #expect(verified.status == 0 && verified.stderr.isEmpty, "\(verified)")
        let live = try FileManager.default.contentsOfDirectory(atPath: queuePath(fixture) + ".live")
        #expect(live.isEmpty, "the dead sandbox's lock file was left: \(live)")
    }

    @Test("approving or denying a request whose held process was killed is refused, with the reason",
          arguments: [SandboxConfig.root])
    func cancelledRequestCannotBeDecided(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "KEEP=1\n")
        // The harness's timeout kills the held rm; the sandbox itself lives on.
        let agent = try startAgent(fixture, approvers, "timeout -s KILL 2 rm .env; echo rm=$?; sleep 60")
        defer {
            agent.send(SIGTERM)
            _ = agent.wait(timeout: 15)
        }
        let held = try #require(try heldOrKill(fixture, approvers, agent))
        let id = try #require(held["id"] as? String)
        var row: [String: Any]?
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, row?["state"] as? String != "cancelled" {
            usleep(200_000)
            let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
            row = (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.first { $0["id"] as? String == id }
        }
        #expect(row?["state"] as? String == "cancelled", "\(row ?? [:])")
        #expect(row?["cancel_reason"] as? String == "the held process ended", "\(row ?? [:])")
        let shown = try queueCLI(fixture, approvers, ["queue", "show", id])
        #expect(shown.stdout.contains("cancelled: the held process ended"), "\(shown)")
        let approved = try approve(fixture, approvers, id, as: "alice")
        #expect(approved.status == 1 && approved.stderrLines == [
            "airlock: request \(id) was cancelled (the held process ended): there is nothing left to approve"], "\(approved)")
        let denied = try queueCLI(fixture, approvers, ["deny", id, "--key", approvers.key("bob"), "--reason", "too late"])
        #expect(denied.status == 1 && denied.stderrLines == [
            "airlock: request \(id) was cancelled (the held process ended): there is nothing left to deny"], "\(denied)")
        let queue = try String(contentsOfFile: queuePath(fixture), encoding: .utf8)
        #expect(!queue.contains(#""event":"approve""#) && !queue.contains(#""event":"deny""#), "a refused decision was written\n\(queue)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
    }

    @Test("--audit holds nothing and records what it would have held", arguments: [SandboxConfig.root])
    func auditModeRecords(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let outcome = try startAgent(fixture, approvers, "rm .env; echo rm=$?", options: ["--audit"]).wait(timeout: 15)
        #expect(outcome.lines.contains("rm=0"), "\(outcome)")
        let queue = try String(contentsOfFile: queuePath(fixture), encoding: .utf8)
        #expect(queue.contains("\"event\":\"audit\""), "\(queue)")
        #expect(!queue.contains("\"event\":\"request\""), "\(queue)")
    }

    @Test("an approved command's grant covers the paths it names, not the rest of the workspace",
          arguments: [SandboxConfig.root])
    func commandGrantCoversOnlyItsPaths(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/data/a", "a\n")
        try fixture.write(fixture.workspace + "/.env", "TOKEN=precious\n")
        // An `rm` that, once approved for `rm -rf data`, also deletes .env (as a child: a descendant
        // of the approved process, which the grant would cover if it covered the workspace).
        let probe = try Binaries.probe()
        try fixture.write(fixture.root + "/bin/rm", "#!/bin/sh\n\(probe) unlink data/a\n\(probe) unlink .env\n", mode: 0o755)
        let agent = try startAgent(fixture, approvers, "PATH=\(fixture.root)/bin:$PATH; rm -rf data; echo rm=$?",
                                   options: ["--protect", fixture.workspace + "/data"])
        let held = try #require(try waitForHeld(fixture, approvers), "\(agent.poll().map(\.description) ?? "")")
        #expect(held["kind"] as? String == "exec" && (held["argv"] as? [String]) == ["rm", "-rf", "data"], "\(held)")
        let id = try #require(held["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, id, as: name) }
        let next = try #require(try waitForHeld(fixture, approvers, excluding: [id]), "\(agent.poll().map(\.description) ?? "")")
        #expect(next["kind"] as? String == "delete" && next["path"] as? String == fixture.workspace + "/.env", "\(next)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/data/a"), "data/a was not deleted under the grant")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let queue = try String(contentsOfFile: queuePath(fixture), encoding: .utf8)
        #expect(queue.contains("\"roots\":[\"\(fixture.workspace)/data\"]"), "\(queue)")
        agent.send(SIGTERM)
        _ = agent.wait(timeout: 15)
    }

    @Test("a protected file an approved write creates is pinned at the kernel layer, as those at the start are",
          arguments: [SandboxConfig.root, SandboxConfig(backend: .namespaces, asNobody: true)])
    func approvedCreationIsPinned(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        // The mount line shows the pin: a read-only bind on the new file (the terraform state rule
        // guards contents). (chmod fails at the notifier too now, so chmod=1 alone would not.)
        let agent = try startAgent(fixture, approvers, """
            echo new > late.tfstate; echo write=$?
            chmod 600 late.tfstate 2>/dev/null; echo chmod=$?
            awk -v p="$PWD/late.tfstate" '$5 == p { print "mount " $6 }' /proc/self/mountinfo
            """)
        let held = try #require(try waitForHeld(fixture, approvers), "\(agent.poll().map(\.description) ?? "")")
        #expect(held["kind"] as? String == "truncate" && held["path"] as? String == fixture.workspace + "/late.tfstate", "\(held)")
        let id = try #require(held["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, id, as: name) }
        let outcome = agent.wait(timeout: 30)
        #expect(outcome.lines.contains("write=0"), "\(outcome)")
        #expect(outcome.lines.contains("chmod=1"), "the new protected file is writable at the kernel layer\n\(outcome)")
        #expect(outcome.lines.contains { $0.hasPrefix("mount ro,") }, "\(outcome)")
        #expect((try? String(contentsOfFile: fixture.workspace + "/late.tfstate", encoding: .utf8)) == "new\n")
    }

    @Test("an exclusive create (O_CREAT|O_EXCL, never sent to the supervisor) makes a new file at a protected name, and then its rewrite, truncation, deletion and chmod are held or refused as for any protected file; over an existing protected file or a dangling symlink it fails with EEXIST and changes nothing",
          arguments: SandboxConfig.all)
    func exclusiveCreateCannotClobber(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        try FileManager.default.createSymbolicLink(atPath: fixture.workspace + "/dangling.tfstate", withDestinationPath: fixture.workspace + "/target.tfstate")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let script = #"""
            import os, sys
            def attempt(label, call):
                try:
                    call()
                    print(label, "ok", flush=True)
                except OSError as e:
                    print(label, os.strerror(e.errno), flush=True)
            def create(name, text):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, 0o644)
                os.write(fd, text)
                os.close(fd)
            attempt("new", lambda: create("new.tfstate", b"state\n"))
            attempt("existing", lambda: create(".env", b"B=2\n"))
            attempt("dangling", lambda: create("dangling.tfstate", b"x\n"))
            attempt("rewrite", lambda: open("new.tfstate", "w").close())
            attempt("append", lambda: open("new.tfstate", "a").write("more\n"))
            attempt("truncate", lambda: os.truncate("new.tfstate", 0))
            attempt("chmod", lambda: os.chmod("new.tfstate", 0))
            attempt("delete", lambda: os.unlink("new.tfstate"))
            """#
        try fixture.write(fixture.workspace + "/excl.py", script)
        let agent = try startAgent(fixture, approvers, "python3 excl.py", options: ["--wait", "1s"])
        let outcome = agent.wait(timeout: 60)
        for line in ["new ok", "existing File exists", "dangling File exists", "rewrite Operation not permitted",
                     "append Operation not permitted", "truncate Operation not permitted", "chmod Operation not permitted",
                     "delete Operation not permitted"] {
            #expect(outcome.lines.contains(line), "\(line)\n\(outcome)")
        }
        #expect((try? String(contentsOfFile: fixture.workspace + "/new.tfstate", encoding: .utf8)) == "state\n")
        #expect((try? String(contentsOfFile: fixture.workspace + "/.env", encoding: .utf8)) == "A=1\n")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/target.tfstate"))
        // Held, not merely refused: each was a request in the queue.
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(Set(rows.compactMap { $0["kind"] as? String }) == ["write", "truncate", "delete"], "\(listed)")
        #expect(rows.allSatisfy { $0["path"] as? String == fixture.workspace + "/new.tfstate" }, "\(listed)")
    }

    @Test("a protected file that appears from outside after the start is pinned at the first call held on it",
          arguments: SandboxConfig.namespaces)
    func outsideFileIsPinnedAtItsFirstHold(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.root + "/short.toml", "extends = \"default\"\n[signoff]\ntimeout = 1\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, """
            while [ ! -e late.tfstate ]; do sleep 0.05; done
            awk -v p="$PWD/late.tfstate" '$5 == p { print "before " $6 }' /proc/self/mountinfo
            rm -f late.tfstate; echo rm=$?
            awk -v p="$PWD/late.tfstate" '$5 == p { print "after " $6 }' /proc/self/mountinfo
            """, options: ["--profile", fixture.root + "/short.toml"])
        usleep(300_000)
        try fixture.write(fixture.workspace + "/late.tfstate", "{}\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("rm=1"), "\(outcome)")
        #expect(!outcome.lines.contains { $0.hasPrefix("before ") }, "pinned before any call: the test shows nothing\n\(outcome)")
        #expect(outcome.lines.contains { $0.hasPrefix("after ro,") }, "\(outcome)")
        #expect((try? String(contentsOfFile: fixture.workspace + "/late.tfstate", encoding: .utf8)) == "{}\n")
    }

    @Test("a renamed copy of a program the exec rules name is held as that program: cp git g; ./g clean -fdx",
          arguments: [SandboxConfig.root] + SandboxConfig.landlock)
    func renamedCopyIsRecognised(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.root + "/short.toml", "extends = \"default\"\n[signoff]\ntimeout = 2\n")
        try fixture.write(fixture.workspace + "/untracked.txt", "keep\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAgent(fixture, approvers, """
            cp /usr/bin/git ./g && ./g init -q . && ./g clean -fdx; echo clean=$?
            """, options: ["--profile", fixture.root + "/short.toml"])
        guard let held = try heldOrKill(fixture, approvers, agent) else { return }
        #expect(held["kind"] as? String == "exec" && (held["argv"] as? [String])?.prefix(3) == ["./g", "clean", "-fdx"], "\(held)")
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("clean=126"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/untracked.txt"))
    }

    @Test("an exec's argv is read exactly: 150 arguments, one of 5,000 bytes, one across a page boundary, the array misaligned across one",
          arguments: [SandboxConfig.root])
    func execArgvIsReadExactly(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.root + "/layout.toml", """
            extends = "default"
            [[exec]]
            name = "echo audited"
            argv = ["echo"]
            action = "audit"
            """)
        let command = [try Binaries.probe(), "exec-layout", "/bin/echo"]
        let outcome = try startAgent(fixture, approvers, command.map(shellQuoted).joined(separator: " "),
                                     options: ["--profile", fixture.root + "/layout.toml"]).wait(timeout: 30)
        // What the probe passed, one argument per line, then echo's own line.
        let passed = outcome.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let arguments = Array(passed.prefix(152))
        #expect(arguments.count == 152 && arguments[150].count == 5000, "\(outcome)")
        #expect(passed.dropFirst(152).first == arguments.joined(separator: " "), "echo did not run with them\n\(outcome)")
        let audits = try String(contentsOfFile: queuePath(fixture), encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["event"] as? String == "audit" }
        #expect(audits.count == 1, "\(audits)")
        #expect(audits.first?["argv"] as? [String] == ["/bin/echo"] + arguments)
    }

    @Test("an agent's rm -rf of a protected directory and terraform destroy are held at exec, and run once two approvers sign",
          arguments: [SandboxConfig.root, SandboxConfig(backend: .namespaces, asNobody: true)])
    func commandsAreHeldAndRunAfterApproval(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        for name in ["a", "b", "deep/er/c"] { try fixture.write(fixture.workspace + "/data/" + name, "\(name)\n") }
        // A stand-in terraform on PATH: the interception is real, the binary need not be.
        try fixture.write(fixture.root + "/bin/terraform", "#!/bin/sh\necho \"terraform $*\" > terraform-ran\n", mode: 0o755)
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startAirlock(
            fixture.runArguments(["/bin/sh", "-c", "rm -rf data; echo rm=$?; terraform destroy -auto-approve; echo tf=$?"],
                                 options: ["--approvers", approvers.allowedSigners, "--protect", fixture.workspace + "/data"]),
            env: fixture.environment(["PATH": fixture.root + "/bin:/usr/bin:/bin"]), cwd: fixture.workspace, user: config.user)

        let rm = try #require(try waitForHeld(fixture, approvers))
        #expect(rm["kind"] as? String == "exec")
        #expect((rm["argv"] as? [String]) == ["rm", "-rf", "data"], "\(rm)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/data/a"), "rm ran before approval")
        let rmID = try #require(rm["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, rmID, as: name) }

        let tf = try #require(try waitForHeld(fixture, approvers, excluding: [rmID]))
        #expect((tf["argv"] as? [String]) == ["terraform", "destroy", "-auto-approve"], "\(tf)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/terraform-ran"), "terraform ran before approval")
        let tfID = try #require(tf["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, tfID, as: name) }

        let outcome = agent.wait(timeout: 30)
        #expect(outcome.lines.contains("rm=0"), "\(outcome)")
        #expect(outcome.lines.contains("tf=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/data"), "the approved rm -rf did not finish")
        #expect((try? String(contentsOfFile: fixture.workspace + "/terraform-ran", encoding: .utf8)) == "terraform destroy -auto-approve\n")
        // Each file the approved rm removed under its grant is on record.
        let queue = try String(contentsOfFile: queuePath(fixture), encoding: .utf8)
        #expect(queue.contains("under grant: delete \(fixture.workspace)/data/deep/er/c"), "\(queue)")
    }

    @Test("a thread that rewrites execve's argv after the check gets its process killed, never run as the other command",
          arguments: [SandboxConfig.root])
    func argvRaceIsCaughtAfterExec(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.root + "/race.toml", """
            extends = "default"
            [[exec]]
            name = "evil echo"
            argv = ["echo"]
            args = ["evil"]
            action = "deny"
            """)
        // Up to 3,000 rounds, until 20 hits (a hit either ran the other command or was killed): on a
        // busy machine the flipping thread may lose many rounds.
        let race = [try Binaries.probe(), "exec-race", "3000", "/bin/echo", "safe", "evil", "20"]
        // Bare, the flipping thread does get the other command line run.
        let bare = try Subprocess(race, environment: fixture.environment(), directory: fixture.workspace).wait(timeout: 60)
        #expect(bare.stdout.contains("exec-race: ran-evil ") && !bare.stdout.contains("ran-evil 0 "), "\(bare)")

        let outcome = try startAgent(fixture, approvers, race.map(shellQuoted).joined(separator: " "),
                                     options: ["--profile", fixture.root + "/race.toml"]).wait(timeout: 120)
        #expect(outcome.stdout.contains("exec-race: ran-evil 0 killed "), "\(outcome)")
        #expect(!outcome.stdout.contains("killed 0\n"), "the race never hit: nothing was proved\n\(outcome)")
    }

    @Test("a grant covers the approved process's other threads, and no other process", arguments: [SandboxConfig.root])
    func grantCoversThreadsOfTheApprovedProcess(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        for name in ["a", "b"] { try fixture.write(fixture.workspace + "/data/" + name, "\(name)\n") }
        try fixture.write(fixture.root + "/grant.toml", """
            extends = "default"
            [[exec]]
            name = "probe unlinks"
            argv = ["airlock-probe", "thread-unlink"]
            """)
        let probe = try Binaries.probe()
        let script = "\(probe) thread-unlink data/a; \(probe) unlink data/b; echo done"
        let agent = try startAgent(fixture, approvers, script,
                                   options: ["--profile", fixture.root + "/grant.toml", "--protect", fixture.workspace + "/data"])
        let held = try #require(try waitForHeld(fixture, approvers))
        #expect(held["kind"] as? String == "exec", "\(held)")
        let id = try #require(held["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, id, as: name) }
        // The approved process's thread deletes data/a under the grant; the next process is another
        // process, so its delete of data/b is held anew.
        let next = try #require(try waitForHeld(fixture, approvers, excluding: [id]), "\(agent.poll().map(\.description) ?? "")")
        #expect(next["kind"] as? String == "delete" && next["path"] as? String == fixture.workspace + "/data/b", "\(next)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/data/a"))
        agent.send(SIGTERM)
        _ = agent.wait(timeout: 15)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/data/b"))
    }

    @Test("two sandboxes and two approvers writing one queue at once lose nothing", arguments: [SandboxConfig.root])
    func concurrentWritersLoseNothing(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let second = fixture.root + "/workspace2"
        for name in ["a", "b", "c"] {
            try fixture.write(fixture.workspace + "/\(name)/.env", "\(name)\n")
            try fixture.write(second + "/\(name)/.env", "\(name)\n")
        }
        let script = "for f in a b c; do rm $f/.env; echo rm-$f=$?; done"
        let agents = try [fixture.workspace, second].map { ws in
            try startAirlock(["run", "--backend", config.backend.rawValue, "--workspace", ws, "--approvers", approvers.allowedSigners,
                              "--", "/bin/sh", "-c", script], env: fixture.environment(), cwd: ws, user: config.user)
        }
        // Two approvers, each in a loop of their own, sign whatever is pending until both agents end.
        let done = ManagedFlag()
        let threads = ["alice", "bob"].map { name in
            Thread {
                var signed = Set<String>()
                while !done.value {
                    if let listed = try? queueCLI(fixture, approvers, ["queue", "list", "--json", "--pending"]),
                       let data = listed.stdout.data(using: .utf8),
                       let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] {
                        for id in rows.compactMap({ $0["id"] as? String }) where !signed.contains(id) {
                            if (try? approve(fixture, approvers, id, as: name))?.status == 0 { signed.insert(id) }
                        }
                    }
                    usleep(50_000)
                }
            }
        }
        threads.forEach { $0.start() }
        let outcomes = agents.map { $0.wait(timeout: 60) }
        done.value = true
        for outcome in outcomes {
            for f in ["a", "b", "c"] { #expect(outcome.lines.contains("rm-\(f)=0"), "\(outcome)") }
        }
        let verified = try queueCLI(fixture, approvers, ["queue", "verify"])
        #expect(verified.status == 0, "\(verified)")
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 6, "\(listed)")
        #expect(rows.allSatisfy { $0["state"] as? String == "resolved" && $0["approvals"] as? Int == 2 }, "\(listed)")
    }

    @Test("signals to a held thread and the same call from a second thread make no second request",
          arguments: [SandboxConfig.root])
    func heldCallsDoNotMultiply(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        // A handler with SA_RESTART on SIGUSR1, and two threads unlinking the same protected file.
        let program = """
            import os, signal, threading
            signal.signal(signal.SIGUSR1, lambda *a: None)
            def gone():
                try: os.unlink('.env'); print('unlinked', flush=True)
                except OSError as e: print('errno', e.errno, flush=True)
            ts = [threading.Thread(target=gone) for _ in range(2)]
            [t.start() for t in ts]; [t.join() for t in ts]
            """
        let agent = try startAgent(fixture, approvers, "python3 -c \(shellQuoted(program))")
        let held = try #require(try waitForHeld(fixture, approvers))
        let pid = try #require(held["pid"] as? Int)
        usleep(300_000) // let the second thread reach the supervisor too
        for _ in 0..<20 { kill(pid_t(pid), SIGUSR1); usleep(10_000) }
        let id = try #require(held["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, id, as: name) }
        let outcome = agent.wait(timeout: 30)
        #expect(outcome.lines.contains("unlinked"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let listed = try queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 1, "one call, one request\n\(listed)")
    }

    @Test("a path the supervisor cannot read from the agent's memory is denied, not let through",
          arguments: [SandboxConfig.root])
    func unreadableArgumentsAreDenied(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        // A path; an exec's argument that is unmapped; one that runs unterminated into unmapped memory.
        let checks = ["unlink-badptr", "exec-badarg", "exec-cutarg"]
        let bare = try fixture.bare(checks)
        let run = try fixture.probe(checks)
        for check in checks {
            #expect(bare[check].isErrno(EFAULT), "\(bare)")
            #expect(run[check].isErrno(EPERM), "\(run)")
        }
    }

    @Test("inside a sandbox, doctor reports that no second notify listener can be added",
          arguments: [SandboxConfig.root])
    func doctorSeesTheListenerTaken(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let outcome = try fixture.run([try Binaries.airlock(), "doctor", "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let notify = try #require(report["seccompUserNotification"] as? [String: Any])
        #expect(notify["ok"] as? Bool == false, "\(outcome)")
    }
}

/// A flag shared with helper threads.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}