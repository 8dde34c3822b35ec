@testable import AirlockSignOff
import Foundation
import Testing

struct QueuePrefixTests {
    @Test("the prefix read so far stays intact under appends, and an edit, a cut or a rewrite of it shows")
    func prefixDetectsEditsOfReadBytes() throws {
        let path = NSTemporaryDirectory() + "airlock-prefix-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lines = Array("{\"seq\":1}\n{\"seq\":2}\n".utf8)
        try Data(lines).write(to: URL(fileURLWithPath: path))
        var prefix = QueuePrefix()
        prefix.append(lines.prefix(10))
        prefix.append(lines.dropFirst(10))
        #expect(try prefix.isIntact(in: path))

        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"seq\":3}\n".utf8))
        try handle.close()
        #expect(try prefix.isIntact(in: path), "appending is what a queue does")

        var edited = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        edited[8] = UInt8(ascii: "9") // same length, one byte
        try Data(edited).write(to: URL(fileURLWithPath: path))
        #expect(try !prefix.isIntact(in: path))

        try Data(lines.prefix(5)).write(to: URL(fileURLWithPath: path))
        #expect(try !prefix.isIntact(in: path), "a queue cut shorter than what was read")
    }
}
