import Testing

@testable import AirlockPolicy

@Suite struct PathGlobTests {
    @Test(arguments: [
        // Literal segments.
        ("/w/.git", "/w/.git", true),
        ("/w/.git", "/w/.github", false),
        ("/w/.git", "/w", false),
        ("/w/.git", "/w/.git/config", false),
        ("/", "/", true),
        ("/", "/a", false),
        // Repeated and trailing slashes in the path do not matter.
        ("/w/.git", "//w///.git/", true),
        // `*` stays within one segment, and matches dotfiles and the empty string.
        ("/w/*.tfstate", "/w/prod.tfstate", true),
        ("/w/*.tfstate", "/w/.tfstate", true),
        ("/w/*.tfstate", "/w/a/prod.tfstate", false),
        ("/w/*", "/w/.env", true),
        ("/w/*", "/w", false),
        ("/w/a*b*c", "/w/aXXbYYc", true),
        ("/w/a*b*c", "/w/abcbc", true),
        ("/w/a*b*c", "/w/acb", false),
        ("/w/*/x", "/w/a/b/x", false),
        // `?` is exactly one byte, never `/`.
        ("/w/?.c", "/w/a.c", true),
        ("/w/?.c", "/w/.c", false),
        ("/w/?.c", "/w/ab.c", false),
        ("/w/a?b", "/w/a/b", false),
        // `**` is any number of segments, including none.
        ("/w/.git/**", "/w/.git", true),
        ("/w/.git/**", "/w/.git/objects/ab/cdef", true),
        ("/w/.git/**", "/w/.gitignore", false),
        ("/w/**/.env", "/w/.env", true),
        ("/w/**/.env", "/w/a/b/c/.env", true),
        ("/w/**/.env", "/w/a/b/c/.env.local", false),
        ("/w/**/*.tfstate", "/w/infra/prod/terraform.tfstate", true),
        ("/w/**/*.tfstate", "/w/infra/prod/terraform.tfstate.backup", false),
        ("/**", "/anything/at/all", true),
        ("/**/**/x", "/x", true),
        ("/w/**/a/**/b", "/w/1/a/2/3/b", true),
        ("/w/**/a/**/b", "/w/1/b/2/a", false),
        // `[` is literal.
        ("/w/[ab]", "/w/[ab]", true),
        ("/w/[ab]", "/w/a", false),
        // Relative paths never match an absolute pattern.
        ("/w/**", "w/x", false),
        ("/**", "", false),
    ])
    func aGlobMatchesPathsAsDocumented(pattern: String, path: String, matches: Bool) throws {
        #expect(try PathGlob(pattern).matches(Array(path.utf8)) == matches)
    }

    @Test func pathsThatAreNotUTF8MatchByTheirBytes() throws {
        let invalid: [UInt8] = [0xFF, 0xFE, 0x80]
        let path = Array("/w/".utf8) + invalid + Array(".tfstate".utf8)
        #expect(try PathGlob("/w/*.tfstate").matches(path))
        #expect(try PathGlob("/w/???.tfstate").matches(path))
        #expect(try !PathGlob("/w/?.tfstate").matches(path))
        #expect(try PathGlob("/**").matches(path))

        // A pattern with the same bytes matches; the "repaired" String (U+FFFD) does not.
        let exact = try PathGlob(bytes: path)
        #expect(exact.matches(path))
        let repaired = Array(String(decoding: path, as: UTF8.self).utf8)
        #expect(repaired != path)
        #expect(!exact.matches(repaired))
        #expect(try !PathGlob(String(decoding: path, as: UTF8.self)).matches(path))
    }

    @Test func aWildcardNeverMatchesASlashEvenInsideAMultiByteName() throws {
        // 0x2F is `/` in any byte string; a `*` must stop there however odd the bytes around it.
        let path: [UInt8] = Array("/w/".utf8) + [0xC3] + Array("/".utf8) + [0xA9]
        #expect(try !PathGlob("/w/*").matches(path))
        #expect(try PathGlob("/w/*/*").matches(path))
    }

    @Test(arguments: [
        ("", "cannot be empty"),
        ("relative/**", "must be an absolute path"),
        ("/w/a**", "whole path segment"),
        ("/w/**b/c", "whole path segment"),
        ("/w/../x", "\"..\" is not allowed"),
        ("/w/\u{0}", "NUL"),
    ])
    func aMalformedPatternIsRejected(pattern: String, message: String) throws {
        let error = try #require(throws: ProfileError.self) { try PathGlob(pattern) }
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func manyDoubleStarsStayFast() throws {
        // A naive recursive matcher takes exponential time here.
        let glob = try PathGlob("/" + Array(repeating: "**/a*", count: 30).joined(separator: "/") + "/b")
        let path = Array(("/" + Array(repeating: "aaaa", count: 200).joined(separator: "/")).utf8)
        #expect(!glob.matches(path))
    }

    @Test(arguments: [
        ("*", "", true), ("*", "abc", true), ("a*", "a", true), ("*a", "ba", true), ("*a", "ab", false),
        ("*TOKEN*", "GITHUB_TOKEN", true), ("*TOKEN*", "TOKEN", true), ("*TOKEN*", "token", false),
        ("AWS_*", "AWS_", true), ("AWS_*", "MY_AWS_KEY", false), ("A?C", "ABC", true), ("A?C", "AC", false),
        ("**", "x", true), ("a*b*c*d", "abcabcd", true), ("a*b*c*d", "abcabc", false),
    ])
    func wildcardsMatchWholeNames(pattern: String, name: String, matches: Bool) {
        #expect(wildcardMatches(pattern.utf8, name.utf8) == matches)
    }
}

@Test("a glob admits a last name only if some path ending in it could match; ** admits every name")
func globAdmitsLastNames() throws {
    let env = try PathGlob("/w/**/.env")
    #expect(env.mayMatch(lastName: Array(".env".utf8)))
    #expect(!env.mayMatch(lastName: Array("1234".utf8)))
    let state = try PathGlob("/w/**/*.tfstate")
    #expect(state.mayMatch(lastName: Array("prod.tfstate".utf8)) && !state.mayMatch(lastName: Array("prod.tfstate.bak".utf8)))
    let tree = try PathGlob("/w/protected/**")
    #expect(tree.mayMatch(lastName: Array("anything".utf8)), "a name under a protected tree can be anything")
    // Consistency with matches(): whenever a path matches, its last name is admitted.
    for (glob, path) in [(env, "/w/a/.env"), (state, "/w/x.tfstate"), (tree, "/w/protected/a/b")] {
        #expect(glob.matches(Array(path.utf8)) && glob.mayMatch(lastName: Array(path.split(separator: "/").last!.utf8)))
    }
}
