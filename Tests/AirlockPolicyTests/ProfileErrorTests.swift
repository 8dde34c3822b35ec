import Foundation
import Testing

@testable import AirlockPolicy

/// A profile text and the error it must cause: the key, the line, and words the message must hold.
struct BadProfile: CustomTestStringConvertible, Sendable {
    let text: String
    let key: String?
    let line: Int?
    let message: String
    var testDescription: String { text.replacingOccurrences(of: "\n", with: "⏎") }

    init(_ text: String, key: String?, line: Int?, _ message: String) {
        self.text = text
        self.key = key
        self.line = line
        self.message = message
    }
}

@Suite struct ProfileErrorTests {
    static let badProfiles: [BadProfile] = [
        // TOML syntax, reported with TOMLKit's line.
        BadProfile("[sandbox]\nnetwork = true\nbackend = \n", key: nil, line: 3, "expected value"),
        BadProfile("[sandbox\n", key: nil, line: 1, "expected ']'"),
        // Shapes on which TOMLKit's toml++ aborts the process (found by fuzzing): refused first.
        BadProfile("description = \"x\"\n[.a]\n", key: nil, line: 2, "a table header must start with a key"),
        BadProfile("[[[1]]]\n", key: nil, line: 1, "a table header must start with a key"),
        BadProfile("[filesystem]\nhide = [\"~/.ssh\",\n}\n", key: nil, line: 3, "stands where an array value is expected"),
        BadProfile("[sandbox]\nnetwork = true\nnetwork = false\n", key: nil, line: 3, "cannot redefine"),
        // Unknown keys, anywhere, with the full dotted key.
        BadProfile("[filesystem]\nhide = []\nhidee = [\"~/.ssh\"]\n", key: "filesystem.hidee", line: 3, "did you mean \"hide\""),
        BadProfile("# comment\n[sandbx]\n", key: "sandbx", line: 2, "did you mean \"sandbox\""),
        BadProfile("extend = \"default\"\n", key: "extend", line: 1, "did you mean \"extends\""),
        BadProfile("[signoff]\ncolour = \"red\"\n", key: "signoff.colour", line: 2, "unknown key"),
        BadProfile("filesystem.hidee = []\n", key: "filesystem.hidee", line: 1, "unknown key"),
        BadProfile("[filesystem]\n\"hidee\" = []\n", key: "filesystem.hidee", line: 2, "unknown key"),
        BadProfile("[environment]\n\nset = {}\n'pas' = []\n", key: "environment.pas", line: 4, "did you mean \"pass\""),
        BadProfile("[[protect]]\npaths = [\"a\"]\n[[protect]]\npaths = [\"b\"]\nop = []\n", key: "protect.op", line: 5, "unknown key"),
        // Wrong types.
        BadProfile("[filesystem]\nhide = 3\n", key: "filesystem.hide", line: 2, "expected an array of strings, got integer"),
        BadProfile("[filesystem]\nhide = [\"a\", 3]\n", key: "filesystem.hide", line: 2, "got an array containing integer"),
        BadProfile("[sandbox]\nnetwork = \"no\"\n", key: "sandbox.network", line: 2, "expected one of proxy, open, none, got \"no\""),
        BadProfile("[sandbox]\nnetwork = 1\n", key: "sandbox.network", line: 2, "expected one of proxy, open, none (or true, false), got integer"),
        BadProfile("sandbox = 1\n", key: "sandbox", line: 1, "expected a table, got integer"),
        BadProfile("description = [\"x\"]\n", key: "description", line: 1, "expected a string, got array"),
        BadProfile("[signoff]\nquorum = 2.5\n", key: "signoff.quorum", line: 2, "expected an integer, got float"),
        BadProfile("[environment.set]\nFOO = \"ok\"\nBAR = 1\n", key: "environment.set.BAR", line: 3, "expected a string, got integer"),
        BadProfile("[environment.set]\n\"MY VAR\" = 1\n", key: "environment.set.\"MY VAR\"", line: 2, "expected a string"),
        BadProfile("[environment]\nset = { FOO = 1 }\n", key: "environment.set.FOO", line: 2, "expected a string"),
        BadProfile("[protect]\npaths = [\"x\"]\n", key: "protect", line: 1, "expected [[protect]] tables"),
        // Enum values.
        BadProfile("\n[sandbox]\n\nbackend = \"chroot\"\n", key: "sandbox.backend", line: 4,
                   "expected one of auto, namespaces, landlock, got \"chroot\""),
        BadProfile("sandbox = { backend = \"chroot\" }\n", key: "sandbox.backend", line: 1, "expected one of"),
        BadProfile("[seccomp]\ndeny_action = \"EPERM\"\n", key: "seccomp.deny_action", line: 2, "expected one of errno, kill"),
        BadProfile("[[protect]]\npaths = [\"a\"]\naction = \"block\"\n", key: "protect.action", line: 3,
                   "expected one of hold, deny, allow, audit, got \"block\""),
        // Sign-off values.
        BadProfile("[signoff]\nquorum = 0\n", key: "signoff.quorum", line: 2, "must be at least 1"),
        BadProfile("[signoff]\nquorum = -3\n", key: "signoff.quorum", line: 2, "must be at least 1"),
        BadProfile("[signoff]\ntimeout = \"15x\"\n", key: "signoff.timeout", line: 2, "expected a duration"),
        BadProfile("[signoff]\ntimeout = \"15\"\n", key: "signoff.timeout", line: 2, "expected a duration"),
        BadProfile("[signoff]\ntimeout = \"\"\n", key: "signoff.timeout", line: 2, "expected a duration"),
        BadProfile("[signoff]\ntimeout = \"-5m\"\n", key: "signoff.timeout", line: 2, "expected a duration"),
        BadProfile("[signoff]\ntimeout = 0\n", key: "signoff.timeout", line: 2, "more than 0 seconds"),
        BadProfile("[signoff]\ntimeout = \"0s\"\n", key: "signoff.timeout", line: 2, "more than 0 seconds"),
        BadProfile("[signoff]\ngrant_window = \"400d\"\n", key: "signoff.grant_window", line: 2, "at most 365 days"),
        BadProfile("[signoff]\ngrant_window = \"99999999999999999999s\"\n", key: "signoff.grant_window", line: 2, "expected a duration"),
        BadProfile("[signoff]\ngrant_window = true\n", key: "signoff.grant_window", line: 2, "got boolean"),
        // Paths.
        BadProfile("[filesystem]\nhide = [\"~/.ssh\", \"\"]\n", key: "filesystem.hide", line: 2, "cannot be empty"),
        BadProfile("[filesystem]\nread_write = [\"~bob/src\"]\n", key: "filesystem.read_write", line: 2, "\"~user\" paths are not supported"),
        BadProfile("[filesystem]\nread_only = [\n  \"/etc\",\n  \"/a\\u0000b\",\n]\n", key: nil, line: 4, "NUL"),
        BadProfile("[filesystem]\nhide = [\"/a\\U00000000\"]\n", key: nil, line: 2, "NUL"),
        BadProfile("extends = \"\"\n", key: "extends", line: 1, "cannot be empty"),
        BadProfile("[signoff]\napprovers = \"~alice/allowed_signers\"\n", key: "signoff.approvers", line: 2, "\"~user\""),
        // Protect rules.
        BadProfile("[[protect]]\npaths = [\".git\"]\noperations = [\"delete\", \"explode\"]\n", key: "protect.operations", line: 3,
                   "expected operations among delete, rename, truncate, write, got \"explode\""),
        BadProfile("[[protect]]\npaths = [\".git\"]\noperations = []\n", key: "protect.operations", line: 3, "protect nothing"),
        BadProfile("[[protect]]\nname = \"no paths\"\n", key: "protect.paths", line: 1, "needs \"paths\""),
        BadProfile("[[protect]]\npaths = []\n", key: "protect.paths", line: 2, "at least one path"),
        BadProfile("[[protect]]\npaths = [\"src/a**\"]\n", key: "protect.paths", line: 2, "whole path segment"),
        BadProfile("[[protect]]\npaths = [\"../other\"]\n", key: "protect.paths", line: 2, "\"..\" is not allowed"),
        BadProfile("[[protect]]\npaths = [\"~root/x\"]\n", key: "protect.paths", line: 2, "\"~user\""),
        BadProfile("protect = [{ paths = [\"a\"] }, { paths = [\"b\"], action = \"nope\" }]\n", key: "protect.action", line: 1, "expected one of"),
        // Lines inside a multi-line string are not mistaken for keys.
        BadProfile("description = \"\"\"\n[sandbox]\nbackend = 1\n\"\"\"\n[sandbox]\nbackend = \"x\"\n", key: "sandbox.backend", line: 6, "expected one of"),
        BadProfile("description = '''\nbackend = 1 # '''\n[sandbox]\nbackend = \"x\"\n", key: "sandbox.backend", line: 4, "expected one of"),
    ]

    @Test(arguments: badProfiles)
    func aBadProfileIsRejectedWithItsFileLineAndKey(bad: BadProfile) throws {
        let error = try #require(loadError(bad.text))
        #expect(error.file.hasSuffix("/p.toml"))
        #expect(error.key == bad.key)
        #expect(error.line == bad.line)
        #expect(error.message.contains(bad.message), "\(error)")
    }

    @Test func theErrorPrintsAsOneLineFileLineKeyMessage() throws {
        let dir = ProfileDirectory()
        let file = dir.write("x.toml", "\n[sandbox]\n\n\n\n\nbackend = \"chroot\"\n")
        #expect(throws: ProfileError.self) { try dir.loader.load(file) }
        do {
            _ = try dir.loader.load(file)
        } catch {
            #expect(error.description == "\(file):7: sandbox.backend: expected one of auto, namespaces, landlock, got \"chroot\"")
        }
    }

    @Test(arguments: [
        (ProfileError(file: "a.toml", line: 3, key: "k", message: "m"), "a.toml:3: k: m"),
        (ProfileError(file: "a.toml", line: nil, key: "k", message: "m"), "a.toml: k: m"),
        (ProfileError(file: "a.toml", line: 3, key: nil, message: "m"), "a.toml:3: m"),
        (ProfileError(file: "a.toml", message: "m"), "a.toml: m"),
        (ProfileError(file: "", message: "m"), "m"),
    ])
    func theDescriptionLeavesOutWhatIsUnknown(error: ProfileError, description: String) {
        #expect(error.description == description)
    }

    @Test func aRawNULByteIsRejectedRatherThanEndingTheFileEarly() throws {
        let dir = ProfileDirectory()
        // TOMLKit would read up to the NUL and silently drop the hide list after it.
        let file = dir.write("p.toml", bytes: Array("[sandbox]\nnetwork = true\n".utf8) + [0] + Array("\n[filesystem]\n".utf8))
        let error = try #require(throws: ProfileError.self) { try dir.loader.load(file) }
        #expect(error.line == 3)
        #expect(error.message.contains("NUL"))
    }

    @Test func aFileThatIsNotUTF8IsRejected() throws {
        let dir = ProfileDirectory()
        let file = dir.write("p.toml", bytes: Array("description = \"".utf8) + [0xFF, 0xFE] + Array("\"\n".utf8))
        let error = try #require(throws: ProfileError.self) { try dir.loader.load(file) }
        #expect(error.message.contains("UTF-8"))
    }

    @Test func anEscapedBackslashBeforeU0000IsNotANUL() throws {
        let dir = ProfileDirectory()
        let file = dir.write("p.toml", "[filesystem]\nhide = [\"/a\\\\u0000\"]\n")
        #expect(try dir.loader.load(file).hide == ["/a\\u0000"])
    }

    @Test func anErrorInAParentNamesTheParentFile() throws {
        let dir = ProfileDirectory()
        let parent = dir.write("base.toml", "[sandbox]\nbackend = \"vm\"\n")
        let child = dir.write("child.toml", "extends = \"base\"\n")
        let error = try #require(throws: ProfileError.self) { try dir.loader.load(child) }
        #expect(error.file == parent)
        #expect(error.line == 2)
    }
}
