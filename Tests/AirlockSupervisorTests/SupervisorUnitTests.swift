@testable import AirlockPolicy
@testable import AirlockSupervisor
import Glibc
import SystemPackage
import Testing

/// The pure pieces of the supervisor; the loop itself is tested end to end in real sandboxes.
struct SupervisorUnitTests {
    @Test("a denial is sent to the kernel as a negative errno (a positive one would read as success)",
          arguments: [Errno.notPermitted, .noSuchFileOrDirectory, .invalidArgument, .noFunction])
    func responseErrorIsNegative(errno: Errno) {
        #expect(Supervisor.responseError(errno) == -errno.rawValue)
        #expect(Supervisor.responseError(errno) < 0)
    }

    @Test("the thread group of a thread: the leader's own id for the leader, the leader's for another thread, nil for no thread")
    func threadGroupOfThreads() throws {
        #expect(ExecVerifier.threadGroup(of: getpid()) == getpid())
        let ready = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        ready.initialize(to: 0)
        defer { ready.deallocate() }
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            // This thread's id, from /proc/thread-self ("PID/task/TID").
            var link = [CChar](repeating: 0, count: 64)
            let n = readlink("/proc/thread-self", &link, 63)
            let tid = n > 0 ? Int32(String(cString: link).split(separator: "/").last!)! : -1
            let flag = arg!.assumingMemoryBound(to: Int32.self)
            flag.pointee = tid
            while flag.pointee != 0 { usleep(1000) } // until the test has looked
            return nil
        }, ready)
        while ready.pointee == 0 { usleep(1000) }
        let tid = ready.pointee
        #expect(tid != getpid())
        #expect(ExecVerifier.threadGroup(of: tid) == getpid())
        ready.pointee = 0
        pthread_join(thread, nil)
        #expect(ExecVerifier.threadGroup(of: Int32.max) == nil)
    }

    @Test("syscall arguments decode to what the call would do")
    func interceptedCallsDecode() throws {
        let n = Intercepted.numbers
        let unlinkat = try #require(n["unlinkat"])
        guard case .delete(let p, let removeDirectory)? = Intercepted(nr: unlinkat, args: (5, 0x1000, 0x200, 0, 0, 0)) else {
            Issue.record("unlinkat did not decode as a delete"); return
        }
        #expect(p.dirfd == 5 && p.address == 0x1000 && removeDirectory)
        guard case .open(_, let flags, _)? = Intercepted(nr: try #require(n["creat"]), args: (0x1000, 0o644, 0, 0, 0, 0)) else {
            Issue.record("creat did not decode as an open"); return
        }
        #expect(flags & O_TRUNC != 0 && flags & O_WRONLY != 0, "creat truncates and writes")
        guard case .rename(_, _, let renameFlags)? = Intercepted(nr: try #require(n["renameat2"]), args: (1, 2, 3, 4, 2, 0)) else {
            Issue.record("renameat2 did not decode as a rename"); return
        }
        #expect(renameFlags == 2, "RENAME_EXCHANGE is kept")
        #expect(Intercepted(nr: 0, args: (0, 0, 0, 0, 0, 0)) == nil, "read is not an intercepted call")
    }

    @Test("a grant's root covers itself and what is beneath it, nothing beside it")
    func grantRoots() {
        let root = Array("/w/data".utf8)
        #expect(Grant.isWithin(Array("/w/data".utf8), root))
        #expect(Grant.isWithin(Array("/w/data/a/b".utf8), root))
        #expect(!Grant.isWithin(Array("/w/database".utf8), root))
        #expect(!Grant.isWithin(Array("/w".utf8), root))
    }

    @Test("a glob's literal prefix is the root a file grant covers", arguments: [
        ("/w/.git/**", "/w/.git"), ("/w/**/*.tfstate", "/w"), ("/w/.env", "/w/.env"), ("/**", "/"),
    ])
    func literalPrefix(pattern: String, prefix: String) throws {
        #expect(try PathGlob(pattern).literalPrefix == Array(prefix.utf8))
    }

    @Test("the kernel layer finds every existing protected path in one walk: nested roots, several globs, deep trees")
    func kernelLayerFindsProtectedPaths() throws {
        var template = Array("/var/tmp/airlock-kl-XXXXXX".utf8CString)
        let ws = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { _ = system("rm -rf '\(ws)'") }
        for dir in ["a/b/c", ".git/objects", "node_modules/x"] { #expect(mkdirs("\(ws)/\(dir)")) }
        for file in ["a/b/c/.env", "a/prod.tfstate", "a/b/notes.txt", ".git/objects/pack", "node_modules/x/.env.example"] {
            #expect(creat("\(ws)/\(file)", 0o644) >= 0)
        }
        var profile = Profile()
        profile.protect = [
            ProtectRule(name: "git", paths: [".git"], operations: [.delete, .rename]),
            ProtectRule(name: "state", paths: ["**/*.tfstate", "**/.env"]),
        ]
        let rules = try resolvedProtectRules(profile: profile, workspace: ws, home: "/nonexistent")
        let found = KernelLayer.protectedPaths(rules, writableRoots: [ws])
        #expect(Set(found.readOnly) == ["\(ws)/a/b/c/.env", "\(ws)/a/prod.tfstate"])
        #expect(found.pinned == ["\(ws)/.git"])
        #expect(!found.truncated)
        let capped = KernelLayer.protectedPaths(rules, writableRoots: [ws], limit: 3)
        #expect(capped.truncated, "a walk that stops at its limit says so")
    }
}

private func mkdirs(_ path: String) -> Bool {
    var prefix = ""
    for part in path.split(separator: "/") {
        prefix += "/" + part
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
    }
    return true
}
