import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The agent's view of the filesystem: its workspace writable, the host read-only, secrets gone.
@Suite struct FilesystemViewTests {
    @Test("The workspace is writable and the files land on the host", arguments: SandboxConfig.all)
    func workspaceIsWritable(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let file = s.workspace + "/made-inside-\(s.unique)"
        let run = try s.probe(["write \(file)", "mkdir \(s.workspace)/subdir", "write \(s.workspace)/subdir/nested",
                               "write \(s.workspace)/README", "read \(s.workspace)/README"])
        #expect(run.outcome.status == 0, "\(run)")
        for check in run.checks { #expect(run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect((try? String(contentsOfFile: file, encoding: .utf8)) == "written by airlock-probe\n",
                "the file written inside is not in the host's workspace\n\(run)")
        #expect(FileManager.default.fileExists(atPath: s.workspace + "/subdir/nested"))
    }

    @Test("Everything outside the workspace is read-only", arguments: SandboxConfig.all)
    func outsideIsReadOnly(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let existing = s.outside + "/existing.txt"
        let new = s.outside + "/new-\(s.unique)"
        let checks = ["write \(existing)", "write \(new)", "mkdir \(s.outside)/dir-\(s.unique)",
                      "write \(s.home)/.bashrc", "write \(s.home)/new-\(s.unique)", "unlink \(s.home)/.bashrc"]
        // Unconfined, the same user can do all of it; otherwise this test would prove nothing.
        let bareDir = s.outside + "/bare"
        let bareChecks = ["write \(existing)", "write \(bareDir)-file", "mkdir \(bareDir)", "write \(s.home)/bare-\(s.unique)"]
        let bare = try s.bare(bareChecks)
        for check in bareChecks { #expect(bare[check].isOK, "bare \(check) → \(bare[check])\n\(bare)") }
        let before = try String(contentsOfFile: existing, encoding: .utf8)

        let run = try s.probe(checks + ["read \(existing)", "read \(s.home)/.bashrc"])
        for check in checks { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        // Reading stays allowed: the host is visible, just not writable.
        #expect(run["read \(existing)"].isOK, "\(run)")
        #expect(run["read \(s.home)/.bashrc"].isOK, "\(run)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == before)
        #expect(!FileManager.default.fileExists(atPath: new))
        #expect(FileManager.default.fileExists(atPath: s.home + "/.bashrc"))
    }

    @Test("Root in the sandbox cannot write system directories", arguments: SandboxConfig.all.filter { !$0.asNobody })
    func rootCannotWriteSystem(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let etc = "/etc/airlock-e2e-\(s.unique)"
        let usr = "/usr/local/airlock-e2e-\(s.unique)"
        defer { unlink(etc); unlink(usr) }
        let run = try s.probe(["write \(etc)", "write \(usr)", "write /etc/hostname"])
        for check in run.checks { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect(!FileManager.default.fileExists(atPath: etc))
        #expect(!FileManager.default.fileExists(atPath: usr))
    }

    @Test("Hidden paths are empty, read-only and hold none of the secrets", arguments: SandboxConfig.all)
    func hiddenPathsAreEmpty(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        var checks: [String] = []
        for (dir, file) in Sandbox.hiddenDirectories {
            checks += ["list \(s.home)/\(dir)", "read \(s.home)/\(dir)/\(file)", "write \(s.home)/\(dir)/new-\(s.unique)"]
        }
        for file in Sandbox.hiddenFiles {
            checks += ["read \(s.home)/\(file)", "write \(s.home)/\(file)"]
        }
        let bare = try s.bare(checks.filter { $0.hasPrefix("read ") })
        for check in bare.checks {
            #expect(bare[check].description.contains(s.secret), "bare \(check) → \(bare[check])")
        }

        let run = try s.probe(checks)
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(s.secret), "a planted secret was read inside the sandbox\n\(run)")
        for check in checks {
            let verdict = run[check]
            switch check.split(separator: " ")[0] {
            case "list":
                if config.backend == .namespaces {
                    #expect(verdict == .ok("0:"), "\(check) → \(verdict): the stand-in should be an empty directory\n\(run)")
                } else {
                    // Landlock cannot replace a directory; it may refuse to list it, or list nothing.
                    #expect(!verdict.isOK || verdict == .ok("0:"), "\(check) → \(verdict)\n\(run)")
                }
            case "read":
                if config.backend == .namespaces && Sandbox.hiddenFiles.contains(where: { check.hasSuffix("/" + $0) }) {
                    #expect(verdict.description.hasPrefix("ok 0 bytes"), "\(check) → \(verdict): the stand-in should be an empty file\n\(run)")
                } else {
                    #expect(!verdict.isOK || verdict.description.hasPrefix("ok 0 bytes"), "\(check) → \(verdict)\n\(run)")
                }
            default:
                #expect(!verdict.isOK, "\(check) → \(verdict)\n\(run)")
            }
        }
        for file in Sandbox.hiddenFiles {
            #expect(try String(contentsOfFile: s.home + "/" + file, encoding: .utf8).contains(s.secret))
        }
    }

    @Test("The planted key is unreadable by every path to it", arguments: SandboxConfig.all)
    func keyUnreadableByEveryPath(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        // Symlinks made beforehand in the workspace, pointing at the key and at its directory.
        #expect(symlink(s.sshKey, s.workspace + "/key-link") == 0)
        #expect(symlink(s.home + "/.ssh", s.workspace + "/ssh-link") == 0)
        if let user = config.user {
            lchown(s.workspace + "/key-link", user, user)
            lchown(s.workspace + "/ssh-link", user, user)
        }
        let relativeHome = "../home" // the workspace and HOME are siblings under the sandbox root
        let paths = [
            s.sshKey,
            s.awsCredentials,
            "/proc/self/root" + s.sshKey,
            "/proc/thread-self/root" + s.sshKey,
            "/proc/self/cwd/\(relativeHome)/.ssh/id_ed25519",
            s.home + "/.ssh/../.ssh/id_ed25519",
            s.home + "//.ssh/./id_ed25519",
            s.workspace + "/\(relativeHome)/.ssh/id_ed25519",
            "\(relativeHome)/.ssh/id_ed25519",
            s.workspace + "/key-link",
            s.workspace + "/ssh-link/id_ed25519",
            "/proc/1/root" + s.sshKey,
        ]
        // Unconfined, /proc/1 is the host's init, whose root may be off limits even to root (it is on the
        // development VM); inside the namespaces backend it is the sandbox's own init. So that path is
        // only tried inside.
        let bareChecks = paths.filter { !$0.hasPrefix("/proc/1/") }.map { "read \($0)" }
        let bare = try s.bare(bareChecks)
        for check in bareChecks {
            #expect(bare[check].isOK, "bare \(check) → \(bare[check]); the test cannot tell anything from this path")
        }

        let run = try s.probe(paths.map { "read \($0)" })
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(s.secret), "the key was read inside the sandbox\n\(run)")
        for path in paths {
            let verdict = run["read \(path)"]
            #expect(!verdict.isOK || verdict.description.hasPrefix("ok 0 bytes"), "read \(path) → \(verdict)\n\(run)")
        }
    }

    @Test("The agent cannot move or link the key into the workspace, nor mount over or unmount the stand-ins",
          arguments: SandboxConfig.all)
    func keyCannotBeMovedOrUnhidden(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let run = try s.probe([
            "link \(s.sshKey) \(s.workspace)/hard-link",
            "rename \(s.sshKey) \(s.workspace)/moved",
            "umount2 \(s.home)/.ssh",
            "umount2 \(s.home)",
            "mount \(s.home)/.ssh",
            "read \(s.sshKey)",
            "read \(s.workspace)/hard-link",
            "read \(s.workspace)/moved",
        ])
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(s.secret), "the key was read inside the sandbox\n\(run)")
        for check in run.checks { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect(try String(contentsOfFile: s.sshKey, encoding: .utf8).contains(s.secret), "the key was changed")
    }

    @Test("The namespaces backend gives the agent a private /tmp", arguments: SandboxConfig.namespaces)
    func privateTmp(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let hostMarker = "/tmp/airlock-e2e-host-\(s.unique)"
        let insideFile = "/tmp/airlock-e2e-inside-\(s.unique)"
        try "on the host\n".write(toFile: hostMarker, atomically: false, encoding: .utf8)
        chmod(hostMarker, 0o644)
        defer { unlink(hostMarker); unlink(insideFile) }
        let bare = try s.bare(["read \(hostMarker)"])
        #expect(bare["read \(hostMarker)"].isOK, "\(bare)")

        let run = try s.probe(["read \(hostMarker)", "list /tmp", "write \(insideFile)", "read \(insideFile)"])
        #expect(run["read \(hostMarker)"].isErrno(ENOENT), "the host's /tmp is visible inside\n\(run)")
        #expect(run["write \(insideFile)"].isOK, "/tmp is not writable inside\n\(run)")
        #expect(run["read \(insideFile)"].isOK, "\(run)")
        #expect(!FileManager.default.fileExists(atPath: insideFile), "a file written to /tmp inside appeared on the host")
    }

    @Test("The Landlock backend gives the agent a private, writable TMPDIR and keeps the host's /tmp read-only",
          arguments: SandboxConfig.landlock)
    func landlockTmpdir(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let hostFile = "/tmp/airlock-e2e-host-\(s.unique)"
        defer { unlink(hostFile) }
        let bare = try s.bare(["write \(hostFile)"])
        #expect(bare["write \(hostFile)"].isOK, "\(bare)")
        unlink(hostFile)

        let probe = try Binaries.probe()
        let script = """
            echo "tmpdir: ok $TMPDIR"
            "$0" each "write $TMPDIR/inside-\(s.unique)" "read $TMPDIR/inside-\(s.unique)" "write \(hostFile)"
            """
        let outcome = try s.run(["/bin/sh", "-c", script, probe])
        let lines = outcome.lines
        let tmpdir = lines.first.map { String($0.dropFirst("tmpdir: ok ".count)) } ?? ""
        #expect(lines.first?.hasPrefix("tmpdir: ok /") == true, "TMPDIR is not set to an absolute path\n\(outcome)")
        #expect(tmpdir != "/tmp" && tmpdir != "/tmp/" && tmpdir != "/var/tmp", "TMPDIR is the shared \(tmpdir)\n\(outcome)")
        let run = ProbeRun(checks: ["write \(tmpdir)/inside-\(s.unique)", "read \(tmpdir)/inside-\(s.unique)", "write \(hostFile)"],
                           outcome: outcome, firstLine: 1)
        #expect(run.complete, "\(outcome)")
        #expect(run.verdicts[0].isOK, "TMPDIR is not writable\n\(outcome)")
        #expect(run.verdicts[1].isOK, "\(outcome)")
        #expect(!run.verdicts[2].isOK, "the host's /tmp is writable\n\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: hostFile))
    }

    @Test("A workspace under /tmp stays the real, writable workspace", arguments: SandboxConfig.all)
    func workspaceUnderTmp(config: SandboxConfig) throws {
        let s = try Sandbox(config, workspaceUnder: "/tmp")
        let file = s.workspace + "/made-inside"
        let run = try s.probe(["read \(s.workspace)/README", "write \(file)", "cwd"])
        #expect(run["read \(s.workspace)/README"].isOK, "\(run)")
        #expect(run["write \(file)"].isOK, "\(run)")
        #expect(run["cwd"] == .ok(s.workspace), "\(run)")
        #expect(FileManager.default.fileExists(atPath: file), "the file written inside is not on the host\n\(run)")
    }

    @Test("--rw, --ro and --hide change the view", arguments: SandboxConfig.all)
    func commandLinePaths(config: SandboxConfig) throws {
        let s = try Sandbox(config)
        let extra = s.outside + "/extra"
        let frozen = s.workspace + "/frozen"
        let hidden = s.outside + "/private"
        try s.write(extra + "/x", "x\n")
        try s.write(frozen + "/x", "x\n")
        try s.write(hidden + "/notes", "\(s.secret)\n")
        let run = try s.probe(
            ["write \(extra)/new", "write \(frozen)/x", "write \(frozen)/new", "read \(hidden)/notes", "write \(s.workspace)/ok"],
            options: ["--rw", extra, "--ro", frozen, "--hide", hidden])
        #expect(run["write \(extra)/new"].isOK, "--rw did not make \(extra) writable\n\(run)")
        #expect(!run["write \(frozen)/x"].isOK, "--ro did not make \(frozen) read-only\n\(run)")
        #expect(!run["write \(frozen)/new"].isOK, "--ro did not make \(frozen) read-only\n\(run)")
        #expect(!run["read \(hidden)/notes"].isOK, "--hide did not hide \(hidden)\n\(run)")
        #expect(!run.outcome.stdout.contains(s.secret), "\(run)")
        #expect(run["write \(s.workspace)/ok"].isOK, "\(run)")
    }
}
