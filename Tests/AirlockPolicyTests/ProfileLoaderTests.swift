import Foundation
import Testing

@testable import AirlockPolicy

@Suite struct ProfileLoaderTests {
    @Test func anEmptyProfileHasTheDocumentedDefaults() throws {
        let dir = ProfileDirectory()
        let file = dir.write("empty.toml", "")
        var expected = Profile(name: file, sources: [file])
        expected.backend = .auto
        #expect(try dir.loader.load(file) == expected)
        #expect(expected.network == .open && !expected.allowUnconfined && expected.denyAction == .errno)
        #expect(expected.quorum == 2 && expected.timeoutSeconds == 900 && expected.grantWindowSeconds == 600)
    }

    @Test func aChildOverridesScalarsAndAddsToArraysAndTables() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", """
            description = "base"
            [sandbox]
            network = false
            backend = "namespaces"
            [filesystem]
            hide = ["~/.ssh", "~/.aws"]
            read_write = ["~/.cache"]
            [environment]
            drop = ["*TOKEN*"]
            set = { A = "base", B = "base" }
            [signoff]
            quorum = 3
            timeout = "1h"
            [[protect]]
            name = "git"
            paths = [".git/**"]
            """)
        let child = dir.write("child.toml", """
            extends = "base"
            [sandbox]
            backend = "landlock"
            [filesystem]
            hide = ["~/.aws", "~/.kube"]
            [environment.set]
            B = "child"
            C = "child"
            [signoff]
            timeout = 60
            [[protect]]
            paths = ["**/.env"]
            operations = ["delete"]
            action = "deny"
            """)
        let profile = try dir.loader.load("child")
        #expect(profile.name == "child")
        #expect(profile.sources == [dir.path + "/base.toml", child])
        #expect(profile.summary == "base")
        #expect(profile.backend == .landlock)
        #expect(profile.network == .none, "a child silent about network keeps its parent's")
        #expect(profile.hide == ["~/.ssh", "~/.aws", "~/.kube"])
        #expect(profile.readWrite == ["~/.cache"])
        #expect(profile.envDrop == ["*TOKEN*"])
        #expect(profile.envSet == ["A": "base", "B": "child", "C": "child"])
        #expect(profile.quorum == 3)
        #expect(profile.timeoutSeconds == 60)
        #expect(profile.protect == [
            ProtectRule(name: "git", paths: [".git/**"]),
            ProtectRule(paths: ["**/.env"], operations: [.delete], action: .deny),
        ])
    }

    @Test func extendsByPathIsRelativeToTheIncludingFile() throws {
        let dir = ProfileDirectory()
        dir.write("shared/base.toml", "[signoff]\nquorum = 5\n")
        let child = dir.write("team/child.toml", "extends = \"../shared/base.toml\"\n")
        let profile = try ProfileLoader(searchPaths: []).load(child)
        #expect(profile.quorum == 5)
        #expect(profile.sources == [dir.path + "/shared/base.toml", child])
    }

    @Test func approversAndQueueAreRelativeToTheProfileFile() throws {
        let dir = ProfileDirectory()
        let file = dir.write("team/p.toml", "[signoff]\napprovers = \"keys/allowed_signers\"\nqueue = \"~/q.jsonl\"\n")
        let profile = try dir.loader.load(file)
        #expect(profile.approvers == dir.path + "/team/keys/allowed_signers")
        #expect(profile.queue == "~/q.jsonl")
    }

    @Test func anExtendsCycleIsAnErrorNamingTheCycle() throws {
        let dir = ProfileDirectory()
        dir.write("a.toml", "extends = \"b\"\n")
        let b = dir.write("b.toml", "# b\nextends = \"c\"\n")
        let c = dir.write("c.toml", "extends = \"./b.toml\"\n")
        let error = try #require(throws: ProfileError.self) { try dir.loader.load("a") }
        #expect(error.file == c)
        #expect(error.key == "extends")
        #expect(error.line == 1)
        #expect(error.message == "extends cycle: \(b) → \(c) → \(b)")
    }

    @Test func aProfileExtendingItselfByPathIsACycle() throws {
        let dir = ProfileDirectory()
        let a = dir.write("a.toml", "extends = \"a.toml\"\n")
        let error = try #require(throws: ProfileError.self) { try dir.loader.load(a) }
        #expect(error.message.contains("cycle"))
    }

    @Test(arguments: [(8, true), (9, false)])
    func extendsChainsAreLimitedToEightProfiles(length: Int, loads: Bool) throws {
        let dir = ProfileDirectory()
        dir.write("p1.toml", "[signoff]\nquorum = 7\n")
        for i in 2...length { dir.write("p\(i).toml", "extends = \"p\(i - 1)\"\n") }
        if loads {
            #expect(try dir.loader.load("p\(length)").quorum == 7)
        } else {
            let error = try #require(throws: ProfileError.self) { try dir.loader.load("p\(length)") }
            #expect(error.message.contains("longer than 8"))
        }
    }

    @Test func anUnknownNameListsWhereTheLoaderLooked() throws {
        let loader = ProfileLoader(searchPaths: ["/nonexistent/one", "/nonexistent/two"])
        let error = try #require(throws: ProfileError.self) { try loader.load("nope") }
        #expect(error.file == "nope")
        #expect(error.description == "nope: no profile named \"nope\" (looked in /nonexistent/one, /nonexistent/two)")
    }

    @Test func anUnknownParentNamesTheExtendsLine() throws {
        let dir = ProfileDirectory()
        let file = dir.write("p.toml", "# x\n\nextends = \"missing\"\n")
        let error = try #require(throws: ProfileError.self) { try dir.loader.load(file) }
        #expect(error.file == file)
        #expect(error.line == 3)
        #expect(error.key == "extends")
        #expect(error.message.contains("no profile named \"missing\""))
    }

    @Test func aMissingFileIsAnError() throws {
        let error = try #require(throws: ProfileError.self) { try ProfileLoader(searchPaths: []).load("/nonexistent/p.toml") }
        #expect(error.message.contains("no profile file at /nonexistent/p.toml"))
    }

    @Test(arguments: ["./x", "sub/x", "x.toml", "/abs/x"])
    func aNameWithASlashOrTomlSuffixIsAPath(nameOrPath: String) throws {
        let dir = ProfileDirectory()
        dir.write("x.toml", "")
        // Found by name in the search path, a path is not: the loader must not search for it.
        let error = try #require(throws: ProfileError.self) {
            try ProfileLoader(searchPaths: [dir.path]).load(nameOrPath + (nameOrPath.hasSuffix(".toml") ? ".missing.toml" : "-missing"))
        }
        #expect(error.message.contains("no profile file at"))
    }

    @Test func theFirstSearchPathThatHasTheNameWins() throws {
        let first = ProfileDirectory(), second = ProfileDirectory()
        first.write("p.toml", "[signoff]\nquorum = 1\n")
        second.write("p.toml", "[signoff]\nquorum = 9\n")
        second.write("q.toml", "")
        let loader = ProfileLoader(searchPaths: [first.path, second.path])
        #expect(try loader.load("p").quorum == 1)
        #expect(loader.availableProfiles().map(\.name) == ["p", "q"])
        #expect(loader.availableProfiles().first?.path == first.path + "/p.toml")
    }

    @Test func aUserProfileCanExtendTheShippedProfileOfTheSameName() throws {
        let user = ProfileDirectory()
        let mine = user.write("default.toml", "extends = \"default\"\n[filesystem]\nhide = [\"~/.password-store\"]\n")
        let loader = ProfileLoader(searchPaths: [user.path, shippedProfilesDirectory])
        let profile = try loader.load("default")
        #expect(profile.sources == [shippedProfilesDirectory + "/default.toml", mine])
        #expect(profile.hide.first == "~/.ssh")
        #expect(profile.hide.last == "~/.password-store")
    }

    @Test func defaultSearchPathsGoFromTheUserToTheInstallationToTheCheckout() throws {
        let checkout = ProfileDirectory()
        checkout.write("Package.swift", "// swift-tools-version:6.0\n")
        checkout.write("profiles/default.toml", "")
        let exe = checkout.path + "/.build/x86_64-unknown-linux-gnu/debug/airlock"
        let paths = ProfileLoader.defaultSearchPaths(
            environment: ["HOME": "/home/u", "AIRLOCK_PROFILE_PATH": "/etc/airlock/profiles::/opt/p/"],
            executablePath: exe)
        #expect(paths == [
            "/home/u/.config/airlock/profiles",
            "/etc/airlock/profiles",
            "/opt/p",
            checkout.path + "/.build/x86_64-unknown-linux-gnu/share/airlock/profiles",
            checkout.path + "/profiles",
        ])
    }

    @Test func defaultSearchPathsHonourXDGConfigHome() {
        let paths = ProfileLoader.defaultSearchPaths(
            environment: ["HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"], executablePath: "/usr/local/bin/airlock")
        #expect(paths == ["/xdg/airlock/profiles", "/usr/local/share/airlock/profiles"])
    }

    @Test func defaultSearchPathsFindTheShippedProfilesFromADevelopmentBuild() throws {
        let exe = shippedProfilesDirectory + "/../.build/debug/airlock"
        let paths = ProfileLoader.defaultSearchPaths(environment: [:], executablePath: exe)
        #expect(paths.last == shippedProfilesDirectory)
        #expect(try ProfileLoader(searchPaths: paths).load("claude-code").sources.count == 2)
    }
}
