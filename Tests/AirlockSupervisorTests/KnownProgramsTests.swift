@testable import AirlockSupervisor
import Foundation
import Glibc
import Testing

/// Recognising a program the exec rules name by its file: a copy, a hard link, not a look-alike.
struct KnownProgramsTests {
    let dir: String

    init() throws {
        var template = Array("/var/tmp/airlock-known.XXXXXX".utf8CString)
        dir = String(cString: try #require(mkdtemp(&template)))
        // A stand-in program on a PATH of its own: "tool", 64 KiB and a bit (more than one chunk).
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bin/tool"))
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/copy"))
        var other = bytes
        other[69_999] ^= 1
        try Data(other).write(to: URL(fileURLWithPath: dir + "/lookalike"))
        #expect(link(dir + "/bin/tool", dir + "/hardlink") == 0)
    }

    func recognised(_ path: String, _ known: KnownPrograms) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        return known.program(of: fd)
    }

    @Test func aCopyAndAHardLinkAreTheProgramALookAlikeOfTheSameSizeIsNot() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let known = KnownPrograms(names: ["tool", "absent"], searchPath: dir + "/bin")
        #expect(recognised(dir + "/copy", known) == dir + "/bin/tool")
        #expect(recognised(dir + "/hardlink", known) == dir + "/bin/tool")
        #expect(recognised(dir + "/lookalike", known) == nil)
        // Asked again after the copy changed: compared again, not taken from the first answer.
        let fd = open(dir + "/copy", O_WRONLY)
        usleep(20_000) // past the timestamp granularity of kernels without multigrain timestamps
        #expect(pwrite(fd, [UInt8(7)], 1, 0) == 1)
        close(fd)
        #expect(recognised(dir + "/copy", known) == nil)
    }

    @Test func aFileWrittenToIsAnotherFileToTheExecCheck() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fd = open(dir + "/copy", O_RDWR)
        defer { close(fd) }
        let before = try #require(ExecutableIdentity.FileID(fd: fd))
        #expect(ExecutableIdentity.FileID(fd: fd) == before)
        usleep(20_000) // as above
        #expect(pwrite(fd, [UInt8(1)], 1, 0) == 1)
        #expect(ExecutableIdentity.FileID(fd: fd) != before)
    }
}
