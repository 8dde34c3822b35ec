import Testing

@testable import AirlockPolicy

@Suite struct ProtectRuleTests {
    func profile(_ rules: [ProtectRule]) -> Profile {
        var profile = Profile()
        profile.protect = rules
        return profile
    }

    @Test(arguments: [
        (".", "/ws", true),
        (".", "/ws/a", false),
        (".git/**", "/ws/.git/HEAD", true),
        ("**/.env", "/ws/a/.env", true),
        ("**/.env", "/elsewhere/.env", false),
        ("~", "/home/u", true),
        ("~/.ssh/**", "/home/u/.ssh/id_ed25519", true),
        ("~/.ssh/**", "/ws/.ssh/id_ed25519", false),
        ("/etc/*.conf", "/etc/a.conf", true),
        ("/etc/*.conf", "/ws/etc/a.conf", false),
    ])
    func patternsAreMadeAbsolute(pattern: String, path: String, matches: Bool) throws {
        let p = profile([ProtectRule(paths: [pattern])])
        let rules = try resolvedProtectRules(profile: p, workspace: "/ws", home: "/home/u")
        #expect(rules[0].matches(Array(path.utf8), operation: .delete) == matches)
    }

    @Test(arguments: ["../x", "a/../../x", "", "~bob/x", "src/**x"])
    func aPatternTheLoaderWouldRejectIsRejectedInCodeToo(pattern: String) {
        #expect(throws: ProfileError.self) {
            try resolvedProtectRules(profile: profile([ProtectRule(paths: [pattern])]), workspace: "/ws", home: "/h")
        }
    }

    @Test func theWorkspaceAndHomeAreTakenLiterally() throws {
        let rules = try resolvedProtectRules(
            profile: profile([ProtectRule(paths: [".", "~/x"])]), workspace: "/src/what?/**", home: "/h/*")
        #expect(rules[0].matches(Array("/src/what?/**".utf8), operation: .write))
        #expect(!rules[0].matches(Array("/src/whatX/**".utf8), operation: .write))
        #expect(!rules[0].matches(Array("/src/what?/a/b".utf8), operation: .write))
        #expect(rules[0].globs.count == 2)
        #expect(rules[0].globs[1].matches(Array("/h/*/x".utf8)))
        #expect(!rules[0].globs[1].matches(Array("/h/y/x".utf8)))
    }

    @Test func aWorkspaceThatIsNotUTF8IsMatchedByItsBytes() throws {
        let workspace: [UInt8] = Array("/src/".utf8) + [0xFF, 0x00 + 0x41, 0xFE]
        let rules = try resolvedProtectRules(
            profile: profile([ProtectRule(paths: [".git/**"])]), workspace: workspace, home: Array("/h".utf8))
        #expect(rules[0].matches(workspace + Array("/.git/config".utf8), operation: .truncate))
        let repaired = Array(String(decoding: workspace, as: UTF8.self).utf8)
        #expect(!rules[0].matches(repaired + Array("/.git/config".utf8), operation: .truncate))
    }

    @Test func aRuleCoversOnlyItsOperations() throws {
        let rules = try resolvedProtectRules(
            profile: profile([ProtectRule(paths: ["a"], operations: [.delete, .rename])]), workspace: "/w", home: "/h")
        #expect(rules[0].matches(Array("/w/a".utf8), operation: .delete))
        #expect(rules[0].matches(Array("/w/a".utf8), operation: .rename))
        #expect(!rules[0].matches(Array("/w/a".utf8), operation: .write))
        #expect(!rules[0].matches(Array("/w/a".utf8), operation: .truncate))
    }

    @Test func theFirstMatchingRuleDecides() throws {
        let rules = try resolvedProtectRules(
            profile: profile([
                ProtectRule(name: "exception", paths: [".git/COMMIT_EDITMSG"], action: .allow),
                ProtectRule(name: "git", paths: [".git/**"], action: .hold),
                ProtectRule(name: "audit deletes", paths: ["**"], operations: [.delete], action: .audit),
            ]), workspace: "/w", home: "/h")
        #expect(rules.firstMatch(Array("/w/.git/COMMIT_EDITMSG".utf8), operation: .write)?.name == "exception")
        #expect(rules.firstMatch(Array("/w/.git/HEAD".utf8), operation: .write)?.action == .hold)
        #expect(rules.firstMatch(Array("/w/src/a.c".utf8), operation: .delete)?.action == .audit)
        #expect(rules.firstMatch(Array("/w/src/a.c".utf8), operation: .write) == nil)
    }

    @Test func anUnnamedRuleIsNamedByItsFirstPattern() throws {
        let rules = try resolvedProtectRules(profile: profile([ProtectRule(paths: ["**/.env", "x"])]), workspace: "/w", home: "/h")
        #expect(rules[0].name == "**/.env")
        #expect(rules[0].globs.map(\.description) == ["/w/**/.env", "/w/x"])
    }
}
