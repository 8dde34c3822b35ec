import Testing

@testable import AirlockPolicy

@Suite struct NetworkModeProfileTests {
    @Test("sandbox.network takes proxy, open and none, and the booleans mean open and none",
          arguments: [("\"proxy\"", NetworkMode.proxy), ("\"open\"", .open), ("\"none\"", .none),
                      ("true", .open), ("false", .none)])
    func networkValues(written: String, mode: NetworkMode) throws {
        let dir = ProfileDirectory()
        let file = dir.write("p.toml", "[sandbox]\nnetwork = \(written)\n")
        #expect(try dir.loader.load(file).network == mode)
    }

    @Test("profile show prints the mode by name, and it loads back the same", arguments: NetworkMode.allCases)
    func shownByName(mode: NetworkMode) throws {
        var profile = Profile(name: "p")
        profile.network = mode
        let text = profile.toTOML()
        #expect(text.contains("\nnetwork = \"\(mode.rawValue)\"\n"))
        let dir = ProfileDirectory()
        #expect(try dir.loader.load(dir.write("shown.toml", text)).network == mode)
    }

    @Test("A child silent about the network keeps its parent's proxy mode")
    func inherited() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", "[sandbox]\nnetwork = \"proxy\"\n")
        let child = dir.write("child.toml", "extends = \"base\"\n[sandbox]\nbackend = \"landlock\"\n")
        #expect(try dir.loader.load(child).network == .proxy)
    }

    @Test("A misspelt mode is an error naming the file, line, key and the modes there are")
    func badMode() throws {
        let error = try #require(loadError("# net\n[sandbox]\nnetwork = \"proxied\"\n"))
        #expect(error.line == 3 && error.key == "sandbox.network")
        #expect(error.description.contains("p.toml:3"), "\(error)")
        #expect(error.message.contains("expected one of proxy, open, none, got \"proxied\""), "\(error)")
    }

    @Test("[network] rules load, merge from the parent, decide hosts, and print back equal")
    func networkRules() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", "[network]\nallow = [\"github.com\"]\nunknown = \"deny\"\n")
        let child = dir.write("child.toml", "extends = \"base\"\n[network]\nallow = [\"*.pypi.org:443\"]\ndeny = [\"evil.github.com\"]\n")
        let profile = try dir.loader.load(child)
        #expect(profile.networkAllow == ["github.com", "*.pypi.org:443"])
        #expect(profile.networkUnknown == .deny)
        let policy = profile.networkPolicy
        #expect(policy.decide(host: "github.com", port: 443).action == .allow)
        #expect(policy.decide(host: "files.pypi.org", port: 443).action == .allow)
        #expect(policy.decide(host: "files.pypi.org", port: 80).action == .deny)
        #expect(policy.decide(host: "evil.github.com", port: 443).action == .deny)
        #expect(policy.decide(host: "example.org", port: 443).action == .deny)
        let shown = try dir.loader.load(dir.write("shown.toml", profile.toTOML()))
        #expect(shown.networkAllow == profile.networkAllow && shown.networkDeny == profile.networkDeny
                && shown.networkUnknown == profile.networkUnknown)
    }

    @Test("An empty profile lets the proxy reach unknown hosts (loopback, private and metadata addresses stay refused by the proxy)")
    func defaultUnknownIsAllow() {
        #expect(Profile(name: "p").networkUnknown == .allow)
    }

    @Test("A bad host pattern or unknown action is an error naming the file, line and key",
          arguments: [("[network]\nallow = [\"git*hub.com\"]\n", "network.allow", 2),
                      ("[network]\n\ndeny = [\"host:99999\"]\n", "network.deny", 3),
                      ("[network]\nunknown = \"maybe\"\n", "network.unknown", 2)])
    func badNetworkRules(text: String, key: String, line: Int) throws {
        let error = try #require(loadError(text))
        #expect(error.key == key && error.line == line, "\(error)")
        #expect(error.description.contains("p.toml:\(line)"), "\(error)")
    }

    @Test("forward_as_signed takes the kinds of requests the broker cannot sign again; a child adds to its parent's, profile show prints them, and a misspelt kind is an error naming the key and the kinds")
    func forwardAsSigned() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", "[network]\nforward_as_signed = [\"presigned\"]\n")
        let child = dir.write("child.toml", "extends = \"base\"\n[network]\nforward_as_signed = [\"signed-chunks\", \"presigned\"]\n")
        let profile = try dir.loader.load(child)
        #expect(profile.forwardAsSigned == [.presigned, .signedChunks])
        #expect(profile.toTOML().contains("\nforward_as_signed = [\"presigned\", \"signed-chunks\"]\n"), "\(profile.toTOML())")
        let error = try #require(loadError("[network]\nforward_as_signed = [\"presign\"]\n"))
        #expect(error.line == 2 && error.key == "network.forward_as_signed", "\(error)")
        #expect(error.message.contains("expected kinds among presigned, sigv4a, signed-chunks, got \"presign\""), "\(error)")
    }
}
