import Testing

@testable import AirlockPolicy

@Suite struct NetworkPolicyTests {
    private func policy(allow: [String] = [], deny: [String] = [], unknown: UnknownHostAction = .deny) throws -> NetworkPolicy {
        try NetworkPolicy(allow: allow, deny: deny, unknown: unknown)
    }

    @Test func anExactNameMatchesOnlyThatHost() throws {
        let rule = try HostRule("github.com")
        #expect(rule.matches(host: "github.com", port: 443))
        #expect(!rule.matches(host: "api.github.com", port: 443))
        #expect(!rule.matches(host: "evilgithub.com", port: 443))
        #expect(!rule.matches(host: "github.com.evil", port: 443))
    }

    @Test func aStarLabelMatchesSubdomainsButNotTheDomainItself() throws {
        let rule = try HostRule("*.github.com")
        #expect(rule.matches(host: "api.github.com", port: 443))
        #expect(rule.matches(host: "a.b.github.com", port: 80))
        #expect(!rule.matches(host: "github.com", port: 443))
        #expect(!rule.matches(host: "evilgithub.com", port: 443))
        #expect(!rule.matches(host: ".github.com", port: 443))
    }

    @Test func aLoneStarMatchesAnyHost() throws {
        let rule = try HostRule("*")
        #expect(rule.matches(host: "example.org", port: 1))
        #expect(rule.matches(host: "10.0.0.1", port: 22))
    }

    @Test(arguments: ["GitHub.COM", "github.com.", "GITHUB.COM."])
    func hostsCompareCaseInsensitivelyAndIgnoreATrailingDot(host: String) throws {
        #expect(try HostRule("github.com").matches(host: host, port: 443))
        #expect(try HostRule("GitHub.com.").matches(host: host, port: 443))
    }

    @Test func aPortLimitsTheRuleToThatPort() throws {
        let rule = try HostRule("pypi.org:443")
        #expect(rule.matches(host: "pypi.org", port: 443))
        #expect(!rule.matches(host: "pypi.org", port: 80))
        #expect(rule.port == 443)
        #expect(try HostRule("pypi.org").port == nil)
        #expect(try HostRule("*:8080").matches(host: "x.y", port: 8080))
    }

    @Test func ipLiteralsAreHostsWithOrWithoutBrackets() throws {
        #expect(try HostRule("127.0.0.1").matches(host: "127.0.0.1", port: 80))
        #expect(try HostRule("127.0.0.1:8080").matches(host: "127.0.0.1", port: 8080))
        #expect(try HostRule("[::1]").matches(host: "::1", port: 80))
        #expect(try HostRule("[::1]").matches(host: "[::1]", port: 80))
        #expect(try HostRule("[::1]:443").matches(host: "::1", port: 443))
        #expect(try !HostRule("[::1]:443").matches(host: "::1", port: 80))
        #expect(try HostRule("::1").matches(host: "::1", port: 80))
    }

    @Test(arguments: ["", "pypi.org:0", "pypi.org:65536", "pypi.org:https", "a*.example.com", "*.*.com",
                      "[::1", "[::1]x", ":443", "exa mple.com", "*."])
    func malformedRulesAreRejected(pattern: String) {
        #expect(throws: NetworkPolicyError.self) { try HostRule(pattern) }
    }

    @Test func denyWinsOverAllow() throws {
        let policy = try policy(allow: ["*", "evil.example"], deny: ["*.example", "evil.example"])
        let decision = policy.decide(host: "evil.example", port: 443)
        #expect(decision.action == .deny)
        #expect(decision.description == "deny evil.example")
        #expect(policy.decide(host: "sub.evil.example", port: 443).description == "deny *.example")
        #expect(policy.decide(host: "good.org", port: 443).action == .allow)
    }

    @Test(arguments: UnknownHostAction.allCases)
    func aHostNoRuleNamesGetsTheUnknownAction(unknown: UnknownHostAction) throws {
        let decision = try policy(allow: ["github.com"], unknown: unknown).decide(host: "elsewhere.org", port: 443)
        #expect(decision.action.rawValue == unknown.rawValue)
        #expect(decision.rule == nil)
        #expect(decision.description == "unknown = \(unknown.rawValue)")
        #expect(!decision.namesHostExactly)
    }

    @Test func theMostSpecificAllowRuleDecides() throws {
        let policy = try policy(allow: ["*", "*.internal.corp", "db.internal.corp"])
        #expect(policy.decide(host: "db.internal.corp", port: 5432).description == "allow db.internal.corp")
        #expect(policy.decide(host: "db.internal.corp", port: 5432).namesHostExactly)
        #expect(policy.decide(host: "web.internal.corp", port: 80).description == "allow *.internal.corp")
        #expect(!policy.decide(host: "web.internal.corp", port: 80).namesHostExactly)
        #expect(!policy.decide(host: "127.0.0.1", port: 80).namesHostExactly)
    }

    @Test func onlyAnExactAllowNamesTheHost() throws {
        #expect(try policy(allow: ["127.0.0.1"]).decide(host: "127.0.0.1", port: 8080).namesHostExactly)
        #expect(try !policy(allow: ["*"]).decide(host: "127.0.0.1", port: 8080).namesHostExactly)
        #expect(try !policy(unknown: .allow).decide(host: "127.0.0.1", port: 8080).namesHostExactly)
    }

    @Test(arguments: [
        ([127, 0, 0, 1], ReservedAddress.loopback), ([127, 9, 9, 9], .loopback),
        ([10, 1, 2, 3], .privateNetwork), ([172, 16, 0, 1], .privateNetwork), ([172, 31, 255, 255], .privateNetwork),
        ([192, 168, 1, 1], .privateNetwork), ([169, 254, 1, 1], .linkLocal), ([169, 254, 169, 254], .metadata),
        ([0, 0, 0, 0], .unspecified), ([224, 0, 0, 1], .multicast), ([100, 100, 100, 200], .metadata),
    ] as [([UInt8], ReservedAddress)])
    func reservedIPv4RangesAreRecognized(bytes: [UInt8], expected: ReservedAddress) {
        #expect(ReservedAddress.classify(bytes) == expected)
    }

    @Test(arguments: [[8, 8, 8, 8], [172, 32, 0, 1], [172, 15, 0, 1], [192, 169, 0, 1], [1, 1, 1, 1]] as [[UInt8]])
    func publicIPv4AddressesAreNotReserved(bytes: [UInt8]) {
        #expect(ReservedAddress.classify(bytes) == nil)
    }

    @Test func reservedIPv6RangesAreRecognized() {
        func v6(_ prefix: [UInt8], _ suffix: [UInt8] = []) -> [UInt8] {
            prefix + [UInt8](repeating: 0, count: 16 - prefix.count - suffix.count) + suffix
        }
        #expect(ReservedAddress.classify(v6([], [1])) == .loopback)
        #expect(ReservedAddress.classify(v6([])) == .unspecified)
        #expect(ReservedAddress.classify(v6([0xfd, 0x00, 0x0e, 0xc2], [0x02, 0x54])) == .metadata)
        #expect(ReservedAddress.classify(v6([0xfd, 0x12])) == .privateNetwork)
        #expect(ReservedAddress.classify(v6([0xfc, 0x00], [1])) == .privateNetwork)
        #expect(ReservedAddress.classify(v6([0xfe, 0x80], [1])) == .linkLocal)
        #expect(ReservedAddress.classify(v6([0xff, 0x02], [1])) == .multicast)
        // IPv4-mapped addresses are judged by the IPv4 address inside.
        #expect(ReservedAddress.classify(v6([], [0xff, 0xff, 127, 0, 0, 1])) == .loopback)
        #expect(ReservedAddress.classify(v6([], [0xff, 0xff, 169, 254, 169, 254])) == .metadata)
        #expect(ReservedAddress.classify(v6([], [0xff, 0xff, 8, 8, 8, 8])) == nil)
        #expect(ReservedAddress.classify(v6([0x26, 0x06, 0x47, 0x00], [1])) == nil)
    }
}
