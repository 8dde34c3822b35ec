import Testing

@testable import AirlockPolicy

@Suite struct ProfileTOMLTests {
    /// Writes `profile.toTOML()` to a file and loads it back.
    func roundTrip(_ profile: Profile) throws -> Profile {
        let dir = ProfileDirectory()
        let file = dir.write("shown.toml", profile.toTOML())
        var back = try ProfileLoader(searchPaths: []).load(file)
        back.name = profile.name
        back.sources = profile.sources
        return back
    }

    @Test(arguments: shippedProfileNames)
    func theEffectiveShippedProfileLoadsBackEqual(name: String) throws {
        let profile = try shippedLoader.load(name)
        #expect(try roundTrip(profile) == profile)
    }

    @Test func awkwardValuesSurviveTheRoundTrip() throws {
        var profile = Profile(name: "odd", sources: ["/a.toml", "/b.toml"])
        profile.summary = "quotes \" backslash \\ newline \n tab \t bell \u{7} delete \u{7F} unicode é ✓"
        profile.backend = .namespaces
        profile.network = .none
        profile.allowUnconfined = true
        profile.denyAction = .kill
        profile.readWrite = ["~/a b", "/x/\"y\""]
        profile.readOnly = ["."]
        profile.hide = ["/tab\there"]
        profile.envPass = ["A*"]
        profile.envDrop = ["*"]
        profile.envSet = ["PLAIN": "1", "WITH SPACE": "v", "DOT.TED": "w", "Ünicode": "x", "EMPTY": ""]
        profile.quorum = 4
        profile.timeoutSeconds = 5400
        profile.grantWindowSeconds = 1
        profile.approvers = "/etc/airlock/allowed_signers"
        profile.queue = "~/q.jsonl"
        profile.protect = [
            ProtectRule(paths: ["a", "b/**"], operations: [.rename, .write], action: .audit),
            ProtectRule(name: "n", paths: ["/abs/*"]),
        ]
        #expect(try roundTrip(profile) == profile)
    }

    @Test func theOutputSaysWhereTheProfileCameFromAndUsesReadableDurations() throws {
        let text = try shippedLoader.load("solo").toTOML()
        #expect(text.hasPrefix("# Effective profile \"solo\", merged from (base first):\n#   "))
        #expect(text.contains("quorum = 1\n"))
        #expect(text.contains("timeout = \"15m\"\n"))
        #expect(text.contains("grant_window = \"10m\"\n"))
        #expect(!text.contains("extends"))
    }
}
