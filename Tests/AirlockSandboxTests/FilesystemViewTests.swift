import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The agent's view of the filesystem: its workspace writable, the host read-only, secrets gone.
@Suite struct FilesystemViewTests {
    @Test("The workspace is writable and the files land on the host", arguments: SandboxConfig.all)
    func workspaceIsWritable(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let file = f.workspace + "/made-inside-\(f.unique)"
        let run = try f.probe(["write \(file)", "mkdir \(f.workspace)/subdir", "write \(f.workspace)/subdir/nested",
                               "write \(f.workspace)/README", "read \(f.workspace)/README"])
        #expect(run.outcome.status == 0, "\(run)")
        for check in run.checks { #expect(run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect((try? String(contentsOfFile: file, encoding: .utf8)) == "written by airlock-probe\n",
                "the file written inside is not in the host's workspace\n\(run)")
        #expect(FileManager.default.fileExists(atPath: f.workspace + "/subdir/nested"))
    }

    @Test("Everything outside the workspace is read-only", arguments: SandboxConfig.all)
    func outsideIsReadOnly(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let existing = f.outside + "/existing.txt"
        let new = f.outside + "/new-\(f.unique)"
        let checks = ["write \(existing)", "write \(new)", "mkdir \(f.outside)/dir-\(f.unique)",
                      "write \(f.home)/.bashrc", "write \(f.home)/new-\(f.unique)", "unlink \(f.home)/.bashrc"]
        // Unconfined, the same user can do all of it; otherwise this test would prove nothing.
        let bareDir = f.outside + "/bare"
        let bareChecks = ["write \(existing)", "write \(bareDir)-file", "mkdir \(bareDir)", "write \(f.home)/bare-\(f.unique)"]
        let bare = try f.bare(bareChecks)
        for check in bareChecks { #expect(bare[check].isOK, "bare \(check) → \(bare[check])\n\(bare)") }
        let before = try String(contentsOfFile: existing, encoding: .utf8)

        // A symlink in the workspace does not make its target writable.
        #expect(symlink(f.outside, f.workspace + "/outside-link") == 0)
        if let user = config.user { lchown(f.workspace + "/outside-link", user, user) }
        let throughLink = "write \(f.workspace)/outside-link/existing.txt"
        let run = try f.probe(checks + [throughLink, "read \(existing)", "read \(f.home)/.bashrc"])
        #expect(!run[throughLink].isOK, "\(throughLink) → \(run[throughLink])\n\(run)")
        for check in checks { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        // Reading stays allowed: the host is visible, just not writable.
        #expect(run["read \(existing)"].isOK, "\(run)")
        #expect(run["read \(f.home)/.bashrc"].isOK, "\(run)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == before)
        #expect(!FileManager.default.fileExists(atPath: new))
        #expect(FileManager.default.fileExists(atPath: f.home + "/.bashrc"))
    }

    @Test("Root in the sandbox cannot write system directories", arguments: SandboxConfig.all.filter { !$0.asNobody })
    func rootCannotWriteSystem(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let etc = "/etc/airlock-e2e-\(f.unique)"
        let usr = "/usr/local/airlock-e2e-\(f.unique)"
        defer { unlink(etc); unlink(usr) }
        let run = try f.probe(["write \(etc)", "write \(usr)", "write /etc/hostname"])
        for check in run.checks { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect(!FileManager.default.fileExists(atPath: etc))
        #expect(!FileManager.default.fileExists(atPath: usr))
    }

    @Test("Hidden paths are empty, read-only and hold none of the secrets", arguments: SandboxConfig.all)
    func hiddenPathsAreEmpty(config: SandboxConfig) throws {
        let f = try Fixture(config)
        var checks: [String] = []
        for (dir, file) in Fixture.hiddenDirectories {
            checks += ["list \(f.home)/\(dir)", "read \(f.home)/\(dir)/\(file)", "write \(f.home)/\(dir)/new-\(f.unique)"]
        }
        for file in Fixture.hiddenFiles {
            checks += ["read \(f.home)/\(file)", "write \(f.home)/\(file)"]
        }
        let bare = try f.bare(checks.filter { $0.hasPrefix("read ") })
        for check in bare.checks {
            #expect(bare[check].description.contains(f.secret), "bare \(check) → \(bare[check])")
        }

        let run = try f.probe(checks)
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(f.secret), "a planted secret was read inside the sandbox\n\(run)")
        for check in checks {
            let verdict = run[check]
            switch check.split(separator: " ")[0] {
            case "list":
                if config.backend == .namespaces {
                    #expect(verdict == .ok("0:"), "\(check) → \(verdict): the stand-in should be an empty directory\n\(run)")
                }
                // Landlock cannot replace a directory: the names inside may still list (the contents
                // are what must stay unreadable, checked below).
            case "read":
                if config.backend == .namespaces && Fixture.hiddenFiles.contains(where: { check.hasSuffix("/" + $0) }) {
                    #expect(verdict.description.hasPrefix("ok 0 bytes"), "\(check) → \(verdict): the stand-in should be an empty file\n\(run)")
                } else {
                    #expect(!verdict.isOK || verdict.description.hasPrefix("ok 0 bytes"), "\(check) → \(verdict)\n\(run)")
                }
            default:
                #expect(!verdict.isOK, "\(check) → \(verdict)\n\(run)")
            }
        }
        for file in Fixture.hiddenFiles {
            #expect(try String(contentsOfFile: f.home + "/" + file, encoding: .utf8).contains(f.secret))
        }
        for (dir, _) in Fixture.hiddenDirectories {
            #expect(!FileManager.default.fileExists(atPath: "\(f.home)/\(dir)/new-\(f.unique)"),
                    "a file was created in the host's ~/\(dir)")
        }
    }

    @Test("The planted key is unreadable by every path to it", arguments: SandboxConfig.all)
    func keyUnreadableByEveryPath(config: SandboxConfig) throws {
        let f = try Fixture(config)
        // Symlinks made beforehand in the workspace, pointing at the key and at its directory.
        #expect(symlink(f.sshKey, f.workspace + "/key-link") == 0)
        #expect(symlink(f.home + "/.ssh", f.workspace + "/ssh-link") == 0)
        if let user = config.user {
            lchown(f.workspace + "/key-link", user, user)
            lchown(f.workspace + "/ssh-link", user, user)
        }
        let relativeHome = "../home" // the workspace and HOME are siblings under the sandbox root
        let paths = [
            f.sshKey,
            f.awsCredentials,
            "/proc/self/root" + f.sshKey,
            "/proc/thread-self/root" + f.sshKey,
            "/proc/self/cwd/\(relativeHome)/.ssh/id_ed25519",
            f.home + "/.ssh/../.ssh/id_ed25519",
            f.home + "//.ssh/./id_ed25519",
            f.workspace + "/\(relativeHome)/.ssh/id_ed25519",
            "\(relativeHome)/.ssh/id_ed25519",
            f.workspace + "/key-link",
            f.workspace + "/ssh-link/id_ed25519",
            "/proc/1/root" + f.sshKey,
        ]
        // Unconfined, /proc/1 is the host's init, whose root may be off limits even to root (it is on the
        // development VM); inside the namespaces backend it is the sandbox's own init. So that path is
        // only tried inside.
        let bareChecks = paths.filter { !$0.hasPrefix("/proc/1/") }.map { "read \($0)" }
        let bare = try f.bare(bareChecks)
        for check in bareChecks {
            #expect(bare[check].isOK, "bare \(check) → \(bare[check]); the test cannot tell anything from this path")
        }

        let run = try f.probe(paths.map { "read \($0)" })
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(f.secret), "the key was read inside the sandbox\n\(run)")
        for path in paths {
            let verdict = run["read \(path)"]
            #expect(!verdict.isOK || verdict.description.hasPrefix("ok 0 bytes"), "read \(path) → \(verdict)\n\(run)")
        }
    }

    @Test("The agent cannot move or link the key into the workspace, nor mount over or unmount the stand-ins",
          arguments: SandboxConfig.all)
    func keyCannotBeMovedOrUnhidden(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let run = try f.probe([
            "link \(f.sshKey) \(f.workspace)/hard-link",
            "rename \(f.sshKey) \(f.workspace)/moved",
            "umount2 \(f.home)/.ssh",
            "umount2 \(f.home)",
            "mount \(f.home)/.ssh",
            "read \(f.sshKey)",
            "read \(f.workspace)/hard-link",
            "read \(f.workspace)/moved",
        ])
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(f.secret), "the key was read inside the sandbox\n\(run)")
        for check in run.checks { #expect(!run[check].isOK, "\(check) → \(run[check])\n\(run)") }
        #expect(try String(contentsOfFile: f.sshKey, encoding: .utf8).contains(f.secret), "the key was changed")
    }

    @Test("The namespaces backend gives the agent a private /tmp", arguments: SandboxConfig.namespaces)
    func privateTmp(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let hostMarker = "/tmp/airlock-e2e-host-\(f.unique)"
        let insideFile = "/tmp/airlock-e2e-inside-\(f.unique)"
        try "on the host\n".write(toFile: hostMarker, atomically: false, encoding: .utf8)
        chmod(hostMarker, 0o644)
        defer { unlink(hostMarker); unlink(insideFile) }
        let bare = try f.bare(["read \(hostMarker)"])
        #expect(bare["read \(hostMarker)"].isOK, "\(bare)")

        let run = try f.probe(["read \(hostMarker)", "list /tmp", "write \(insideFile)", "read \(insideFile)"])
        #expect(run["read \(hostMarker)"].isErrno(ENOENT), "the host's /tmp is visible inside\n\(run)")
        #expect(run["write \(insideFile)"].isOK, "/tmp is not writable inside\n\(run)")
        #expect(run["read \(insideFile)"].isOK, "\(run)")
        #expect(!FileManager.default.fileExists(atPath: insideFile), "a file written to /tmp inside appeared on the host")
    }

    @Test("The Landlock backend gives the agent a private, writable TMPDIR and keeps the host's /tmp read-only",
          arguments: SandboxConfig.landlock)
    func landlockTmpdir(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let hostFile = "/tmp/airlock-e2e-host-\(f.unique)"
        defer { unlink(hostFile) }
        let bare = try f.bare(["write \(hostFile)"])
        #expect(bare["write \(hostFile)"].isOK, "\(bare)")
        unlink(hostFile)

        let probe = try Binaries.probe()
        let script = """
            echo "tmpdir: ok $TMPDIR"
            "$0" each "write $TMPDIR/inside-\(f.unique)" "read $TMPDIR/inside-\(f.unique)" "write \(hostFile)"
            """
        let outcome = try f.run(["/bin/sh", "-c", script, probe])
        let lines = outcome.lines
        let tmpdir = lines.first.map { String($0.dropFirst("tmpdir: ok ".count)) } ?? ""
        #expect(lines.first?.hasPrefix("tmpdir: ok /") == true, "TMPDIR is not set to an absolute path\n\(outcome)")
        #expect(tmpdir != "/tmp" && tmpdir != "/tmp/" && tmpdir != "/var/tmp", "TMPDIR is the shared \(tmpdir)\n\(outcome)")
        let run = ProbeRun(checks: ["write \(tmpdir)/inside-\(f.unique)", "read \(tmpdir)/inside-\(f.unique)", "write \(hostFile)"],
                           outcome: outcome, firstLine: 1)
        #expect(run.complete, "\(outcome)")
        #expect(run.verdicts[0].isOK, "TMPDIR is not writable\n\(outcome)")
        #expect(run.verdicts[1].isOK, "\(outcome)")
        #expect(!run.verdicts[2].isOK, "the host's /tmp is writable\n\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: hostFile))
    }

    @Test("A workspace under /tmp stays the real, writable workspace", arguments: SandboxConfig.all)
    func workspaceUnderTmp(config: SandboxConfig) throws {
        let f = try Fixture(config, workspaceUnder: "/tmp")
        let file = f.workspace + "/made-inside"
        let run = try f.probe(["read \(f.workspace)/README", "write \(file)", "cwd"])
        #expect(run["read \(f.workspace)/README"].isOK, "\(run)")
        #expect(run["write \(file)"].isOK, "\(run)")
        #expect(run["cwd"] == .ok(f.workspace), "\(run)")
        #expect(FileManager.default.fileExists(atPath: file), "the file written inside is not on the host\n\(run)")
    }

    @Test("--rw, --ro and --hide change the view", arguments: SandboxConfig.all)
    func commandLinePaths(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let extra = f.outside + "/extra"
        let frozen = f.workspace + "/frozen"
        let hidden = f.outside + "/private"
        try f.write(extra + "/x", "x\n")
        try f.write(frozen + "/x", "x\n")
        try f.write(hidden + "/notes", "\(f.secret)\n")
        let run = try f.probe(
            ["write \(extra)/new", "write \(frozen)/x", "write \(frozen)/new", "read \(hidden)/notes", "write \(f.workspace)/ok"],
            options: ["--rw", extra, "--ro", frozen, "--hide", hidden])
        if config.backend == .landlock {
            // Landlock can only add rights down a tree, so a read-only directory inside the writable
            // workspace cannot be enforced: airlock must refuse, not run with it writable.
            #expect(run.outcome.status == 125, "\(run)")
            #expect(run.outcome.stderr.contains(frozen) && run.outcome.stderr.contains("landlock"), "\(run)")
            #expect(run.outcome.stdout.isEmpty, "something ran\n\(run)")
            #expect(!FileManager.default.fileExists(atPath: extra + "/new"))
            return
        }
        #expect(run["write \(extra)/new"].isOK, "--rw did not make \(extra) writable\n\(run)")
        #expect(!run["write \(frozen)/x"].isOK, "--ro did not make \(frozen) read-only\n\(run)")
        #expect(!run["write \(frozen)/new"].isOK, "--ro did not make \(frozen) read-only\n\(run)")
        #expect(!run["read \(hidden)/notes"].isOK, "--hide did not hide \(hidden)\n\(run)")
        #expect(!run.outcome.stdout.contains(f.secret), "\(run)")
        #expect(run["write \(f.workspace)/ok"].isOK, "with --ro on a subdirectory, the rest of the workspace must stay writable\n\(run)")
        #expect(!FileManager.default.fileExists(atPath: frozen + "/new"), "a file was created in the --ro directory")
        #expect(try String(contentsOfFile: frozen + "/x", encoding: .utf8) == "x\n")
    }

    @Test("A hidden path that is a symlink hides what it points to", arguments: SandboxConfig.all)
    func hiddenSymlinkHidesTarget(config: SandboxConfig) throws {
        let f = try Fixture(config)
        // Dotfile managers keep ~/.ssh elsewhere and link it into place.
        let real = f.home + "/dotfiles/ssh"
        try FileManager.default.createDirectory(atPath: f.home + "/dotfiles", withIntermediateDirectories: true)
        #expect(rename(f.home + "/.ssh", real) == 0)
        #expect(symlink("dotfiles/ssh", f.home + "/.ssh") == 0)
        if let user = config.user { try chownTree(f.home, to: user) }
        let paths = [f.sshKey, real + "/id_ed25519"]
        let bare = try f.bare(paths.map { "read \($0)" })
        for check in bare.checks { #expect(bare[check].isOK, "bare \(check) → \(bare[check])\n\(bare)") }

        let run = try f.probe(paths.map { "read \($0)" } + ["write \(real)/new-\(f.unique)"])
        #expect(run.complete, "\(run)")
        #expect(!run.outcome.stdout.contains(f.secret), "the key was read through or behind the symlink\n\(run)")
        for check in run.checks { #expect(!run[check].isOK || run[check].description.hasPrefix("ok 0 bytes"), "\(check) → \(run[check])\n\(run)") }
    }

    @Test("Hidden paths stay hidden when HOME is reached through a symlink", arguments: SandboxConfig.all)
    func homeThroughSymlink(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let linkedHome = f.root + "/home-link"
        #expect(symlink(f.home, linkedHome) == 0)
        let keyViaLink = linkedHome + "/.ssh/id_ed25519"
        let outcome = try airlock(f.runArguments([try Binaries.probe(), "each", "read \(keyViaLink)", "read \(f.sshKey)"]),
                                  env: f.environment(["HOME": linkedHome]), cwd: f.workspace, user: config.user)
        let run = ProbeRun(checks: ["read \(keyViaLink)", "read \(f.sshKey)"], outcome: outcome)
        #expect(run.complete, "\(run)")
        #expect(!outcome.stdout.contains(f.secret), "the key was read\n\(run)")
        for check in run.checks { #expect(!run[check].isOK || run[check].description.hasPrefix("ok 0 bytes"), "\(check) → \(run[check])\n\(run)") }
    }

    @Test("With HOME as the workspace, hidden paths inside it stay hidden and unwritable", arguments: SandboxConfig.all)
    func hiddenPathsInsideWorkspace(config: SandboxConfig) throws {
        let f = try Fixture(config, workspaceIsHome: true)
        let ssh = f.home + "/.ssh"
        let payload = f.home + "/payload-\(f.unique)"
        // A file with content the agent controls, in a subdirectory that existed before the run.
        try f.write(f.home + "/projects/README", "a project\n")
        let planted = f.home + "/projects/planted-\(f.unique)"
        let run = try f.probe([
            "write \(payload)",
            "write \(planted)",
            "read \(f.sshKey)",
            "link \(planted) \(ssh)/authorized_keys",
            "rename \(planted) \(ssh)/known_hosts",
            "write \(ssh)/authorized_keys",
            "rename \(payload) \(ssh)/authorized_keys",
            "link \(payload) \(ssh)/config",
            "symlink \(payload) \(ssh)/config",
            "mkdir \(ssh)/dir",
            "unlink \(f.sshKey)",
            "rename \(ssh) \(f.home)/ssh-moved",
            "read \(f.awsCredentials)",
        ])
        if config.backend == .landlock {
            // Hidden paths inside the writable tree cannot be enforced by Landlock alone: refuse.
            #expect(run.outcome.status == 125, "\(run)")
            #expect(run.outcome.stderr.contains("hidden inside the writable"), "\(run)")
            #expect(run.outcome.stdout.isEmpty, "something ran\n\(run)")
            #expect(!FileManager.default.fileExists(atPath: payload))
            return
        }
        #expect(run.complete, "\(run)")
        #expect(run["write \(payload)"].isOK, "HOME is the workspace, so it should be writable\n\(run)")
        #expect(run["write \(planted)"].isOK, "HOME is the workspace, so it should be writable\n\(run)")
        #expect(!run.outcome.stdout.contains(f.secret), "a secret was read\n\(run)")
        for check in run.checks.dropFirst(2) {
            #expect(!run[check].isOK || run[check].description.hasPrefix("ok 0 bytes"), "\(check) → \(run[check])\n\(run)")
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: ssh)) ?? []
        #expect(left == ["id_ed25519"], "the host's ~/.ssh was changed: \(left)")
    }

}
