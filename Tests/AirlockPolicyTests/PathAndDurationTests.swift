import Testing

@testable import AirlockPolicy

@Suite struct PathAndDurationTests {
    @Test(arguments: [
        ("~", "/home/u"),
        ("~/", "/home/u"),
        ("~/.ssh", "/home/u/.ssh"),
        ("~/a/../b", "/home/u/b"),
        ("/etc//ssh/./x/", "/etc/ssh/x"),
        ("/..", "/"),
        ("/a/../../b", "/b"),
        (".", "/ws"),
        (".git", "/ws/.git"),
        ("./a/./b", "/ws/a/b"),
        ("../sibling", "/sibling"),
        ("~bob/x", "/ws/~bob/x"),
    ])
    func pathsExpandAndNormaliseLexically(path: String, expanded: String) {
        #expect(expandPath(path, home: "/home/u", relativeTo: "/ws") == expanded)
    }

    @Test func expandingBytesKeepsNamesThatAreNotUTF8() {
        let name: [UInt8] = [0xFF, 0xFE]
        let result = expandPath(Array("a/".utf8) + name, home: Array("/h".utf8), relativeTo: Array("/w/".utf8))
        #expect(result == Array("/w/a/".utf8) + name)
    }

    @Test(arguments: [("a/../..", ".."), ("a/..", "."), ("../../x", "../../x"), ("a/./b/..", "a"), ("", ".")])
    func relativePathsStayRelativeWhenNormalised(path: String, normalised: String) {
        #expect(String(decoding: normalisePath(Array(path.utf8)), as: UTF8.self) == normalised)
    }

    @Test(arguments: [
        ("", "cannot be empty"), ("/a\u{0}b", "NUL"), ("~root", "~user"), ("~root/.ssh", "~user"),
    ])
    func unusablePathsAreNamed(path: String, problem: String) {
        #expect(pathProblem(path)?.contains(problem) == true)
    }

    @Test(arguments: ["~", "~/x", "/x", "x", "./x", "a~b"])
    func usablePathsPass(path: String) {
        #expect(pathProblem(path) == nil)
    }

    @Test(arguments: [
        ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2d", 172_800), ("1m1s", 61), ("0s", 0),
    ])
    func durationsReadAsSeconds(text: String, seconds: Int) {
        #expect(Durations.seconds(text) == seconds)
    }

    @Test(arguments: ["", "15", "m", "15x", "-5m", "1.5h", "15 m", "1h 30m", "１５m", "99999999999999999999s"])
    func malformedDurationsAreRejected(text: String) {
        #expect(Durations.seconds(text) == nil)
    }

    @Test(arguments: [1, 59, 60, 61, 900, 3599, 3600, 5400, 86_399, 86_400, 90_061, Durations.maximum])
    func formattedDurationsReadBack(seconds: Int) {
        #expect(Durations.seconds(Durations.format(seconds)) == seconds)
    }
}
