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
}
