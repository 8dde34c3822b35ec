import Testing

@testable import AirlockPolicy

/// `[[exec]]` tables in profile files: read, checked with file:line:key errors, merged through
/// `extends`, and printed back.
@Suite struct ExecRuleProfileTests {
    @Test func everyKeyIsRead() throws {
        let dir = ProfileDirectory()
        let file = dir.write("p.toml", """
            [[exec]]
            name = "everything"
            argv = ["tool|tool2", "**", "sub-*"]
            flags = ["-x", "--long=v*"]
            all_flags = ["-a|--all", "--", "-word"]
            unless = ["--dry-run", "help"]
            args = ["+*"]
            targets = ["root", "protected", "root"]
            sql = ["DROP TABLE", "DELETE FROM * !WHERE"]
            env = ["TF_CLI_ARGS*=*-destroy*", "CI"]
            action = "deny"

            [[exec]]
            name = "minimal"
            argv = ["dropdb"]
            """)
        let profile = try dir.loader.load(file)
        #expect(profile.exec == [
            ExecRule(
                name: "everything", argv: ["tool|tool2", "**", "sub-*"], flags: ["-x", "--long=v*"],
                allFlags: ["-a|--all", "--", "-word"], unless: ["--dry-run", "help"], args: ["+*"], targets: [.root, .protected],
                sql: ["DROP TABLE", "DELETE FROM * !WHERE"], env: ["TF_CLI_ARGS*=*-destroy*", "CI"], action: .deny),
            ExecRule(name: "minimal", argv: ["dropdb"], action: .hold),
        ])
    }

    static let badRules: [BadProfile] = [
        BadProfile("[[exec]]\nargv = [\"rm\"]\n", key: "exec.name", line: 1, "needs a \"name\""),
        BadProfile("[[exec]]\nname = \" \"\nargv = [\"rm\"]\n", key: "exec.name", line: 2, "cannot be blank"),
        BadProfile("[[exec]]\nname = \"airlock: mine\"\nargv = [\"rm\"]\n", key: "exec.name", line: 2, "Airlock's own"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\n[[exec]]\nname = \"a\"\nargv = [\"mv\"]\n", key: "exec.name", line: 5,
                   "already named \"a\""),
        BadProfile("[[exec]]\nname = \"a\"\n", key: "exec.argv", line: 1, "needs \"argv\""),
        BadProfile("[[exec]]\nname = \"a\"\nargv = []\n", key: "exec.argv", line: 3, "at least the executable's name"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = \"rm\"\n", key: "exec.argv", line: 3, "expected an array of strings"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"**\", \"x\"]\n", key: "exec.argv", line: 3, "cannot be \"**\""),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"/usr/bin/rm\"]\n", key: "exec.argv", line: 3, "write \"rm\", not a path"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"git\", \"push||pull\"]\n", key: "exec.argv", line: 3, "empty alternative"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\nflags = [\"r\"]\n", key: "exec.flags", line: 4, "options start with \"-\""),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\nall_flags = [\"-r|\"]\n", key: "exec.all_flags", line: 4, "empty alternative"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\nflags = [\"---r\"]\n", key: "exec.flags", line: 4, "three dashes"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\nunless = [\"-\"]\n", key: "exec.unless", line: 4, "not an option"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\ntargets = [\"everywhere\"]\n", key: "exec.targets", line: 4,
                   "expected targets among root, home, workspace-root, protected, outside-workspace, got \"everywhere\""),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"psql\"]\nsql = [\"!WHERE\"]\n", key: "exec.sql", line: 4, "starts with a negated word"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"psql\"]\nsql = [\"\"]\n", key: "exec.sql", line: 4, "at least one word"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"tf\"]\nenv = [\"=x\"]\n", key: "exec.env", line: 4, "needs a variable name"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\naction = \"block\"\n", key: "exec.action", line: 4,
                   "expected one of hold, deny, allow, audit"),
        BadProfile("[[exec]]\nname = \"a\"\nargv = [\"rm\"]\nflag = [\"-r\"]\n", key: "exec.flag", line: 4, "did you mean \"flags\""),
        BadProfile("exec = 3\n", key: "exec", line: 1, "expected [[exec]] tables"),
        BadProfile("[exec]\nname = \"a\"\n", key: "exec", line: 1, "expected [[exec]] tables"),
    ]

    @Test(arguments: badRules)
    func aBadExecRuleIsRejectedWithItsFileLineAndKey(bad: BadProfile) throws {
        let error = try #require(loadError(bad.text))
        #expect(error.key == bad.key)
        #expect(error.line == bad.line)
        #expect(error.message.contains(bad.message), "\(error)")
    }

    @Test func aChildsRulesComeAfterItsParentsAndCannotReuseTheirNames() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", "[[exec]]\nname = \"rm\"\nargv = [\"rm\"]\n")
        dir.write("child.toml", "extends = \"base\"\n[[exec]]\nname = \"push\"\nargv = [\"git\", \"push\"]\naction = \"audit\"\n")
        #expect(try dir.loader.load("child").exec.map(\.name) == ["rm", "push"])

        let clash = dir.write("clash.toml", "extends = \"child\"\n\n[[exec]]\nname = \"ok\"\nargv = [\"a\"]\n[[exec]]\nname = \"rm\"\nargv = [\"rm\"]\naction = \"allow\"\n")
        let error = try #require(throws: ProfileError.self) { try dir.loader.load("clash") }
        #expect(error.file == clash)
        #expect(error.line == 7)
        #expect(error.key == "exec.name")
        #expect(error.message.contains("already defined by a profile this one extends"))
    }

    @Test func awkwardExecRulesSurviveTheRoundTrip() throws {
        var profile = Profile(name: "odd")
        profile.exec = [
            ExecRule(name: "quote \" and \\ and é", argv: ["a|b", "**", "c*"], flags: ["--x=\"y\""], allFlags: ["-a", "--"],
                     unless: ["help", "-n"], args: ["+*"], targets: [.outsideWorkspace, .home], sql: ["DELETE FROM * !WHERE"],
                     env: ["A*=*b*"], action: .audit),
            ExecRule(name: "plain", argv: ["dropdb"]),
        ]
        let dir = ProfileDirectory()
        var back = try ProfileLoader(searchPaths: []).load(dir.write("shown.toml", profile.toTOML()))
        back.name = profile.name
        back.sources = profile.sources
        #expect(back == profile)
        #expect(profile.toTOML().contains("\n[[exec]]\nname = \"plain\"\nargv = [\"dropdb\"]\naction = \"hold\"\n"))
    }

    @Test func theProfileDocumentationDescribesEveryExecKey() throws {
        let doc = try String(contentsOfFile: shippedProfilesDirectory + "/../docs/profiles.md", encoding: .utf8)
        for key in ProfileDecoder.execKeys { #expect(doc.contains("| `\(key)`"), "docs/profiles.md lacks \(key)") }
        for target in ExecTarget.allCases { #expect(doc.contains("`\(target.rawValue)`")) }
        #expect(doc.contains("## Exec rules"))
    }
}
