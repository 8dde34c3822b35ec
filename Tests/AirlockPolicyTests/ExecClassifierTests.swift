import Testing

@testable import AirlockPolicy

/// How the classifier reads a command line: wrappers, shell scripts, bundled flags, bytes.
@Suite struct ExecClassifierTests {
    /// A command line, the rule that must decide it and the wrappers it must be found through.
    struct Wrapped: CustomTestStringConvertible, Sendable {
        let argv: [String]
        let rule: String
        let via: [String]
        var testDescription: String { displayCommand(argv.map(bytes)) }

        init(_ argv: [String], _ rule: String, via: [String]) {
            self.argv = argv
            self.rule = rule
            self.via = via
        }
    }

    static let wrapped: [Wrapped] = [
        Wrapped(["sh", "-c", "cd x && rm -rf /"], "recursive rm", via: ["sh -c"]),
        Wrapped(["bash", "-lc", "kubectl delete ns prod"], "kubectl delete namespace, CRD, volume or workload", via: ["bash -c"]),
        Wrapped(["bash", "-euxo", "pipefail", "-c", "terraform destroy"], "terraform destroy", via: ["bash -c"]),
        Wrapped(["/bin/dash", "+x", "-ec", "git push -f"], "git push --force", via: ["dash -c"]),
        Wrapped(["env", "-S", "rm -rf /"], "recursive rm", via: ["env"]),
        Wrapped(["env", "-iS", "rm -rf '/'"], "recursive rm", via: ["env"]),
        Wrapped(["env", "-u", "HOME", "FOO=1", "terraform", "destroy"], "terraform destroy", via: ["env"]),
        Wrapped(["env", "--chdir=/", "rm", "-rf", "usr"], "recursive rm", via: ["env"]),
        Wrapped(["sudo", "-u", "x", "rm", "-rf", "/home/agent"], "recursive rm", via: ["sudo"]),
        Wrapped(["sh", "-c", "sudo -u x rm -rf ~"], "recursive rm", via: ["sh -c", "sudo"]),
        Wrapped(["sudo", "-E", "--user=root", "PATH=/x", "terraform", "destroy"], "terraform destroy", via: ["sudo"]),
        Wrapped(["doas", "-u", "root", "rm", "-rf", "/"], "recursive rm", via: ["doas"]),
        Wrapped(["xargs", "rm", "-rf"], "recursive rm", via: ["xargs"]),
        Wrapped(["xargs", "-0", "-n", "10", "-I{}", "rm", "-rf", "{}"], "recursive rm", via: ["xargs"]),
        Wrapped(["timeout", "5", "terraform", "destroy"], "terraform destroy", via: ["timeout"]),
        Wrapped(["timeout", "-s", "KILL", "--kill-after=10", "5m", "terraform", "destroy"], "terraform destroy", via: ["timeout"]),
        Wrapped(["nice", "-n", "10", "rm", "-rf", "/"], "recursive rm", via: ["nice"]),
        Wrapped(["nice", "-5", "rm", "-rf", "/"], "recursive rm", via: ["nice"]),
        Wrapped(["nohup", "rm", "-rf", "/"], "recursive rm", via: ["nohup"]),
        Wrapped(["/lib64/ld-linux-x86-64.so.2", "/usr/bin/rm", "-rf", "/"], "recursive rm", via: ["ld-linux-x86-64.so.2"]),
        Wrapped(["ld.so", "--library-path", "/x", "--argv0", "ls", "git", "clean", "-fdx"], "git clean -f", via: ["ld.so"]),
        Wrapped(["sh", "-c", "exec rm -rf /"], "recursive rm", via: ["sh -c", "exec"]),
        Wrapped(["sh", "-c", "command rm -rf /"], "recursive rm", via: ["sh -c", "command"]),
        Wrapped(["stdbuf", "-oL", "-e", "0", "rm", "-rf", "/"], "recursive rm", via: ["stdbuf"]),
        Wrapped(["ionice", "-c", "3", "rm", "-rf", "/"], "recursive rm", via: ["ionice"]),
        Wrapped(["chrt", "-f", "10", "rm", "-rf", "/"], "recursive rm", via: ["chrt"]),
        Wrapped(["setsid", "-f", "rm", "-rf", "/"], "recursive rm", via: ["setsid"]),
        Wrapped(["time", "-p", "rm", "-rf", "/"], "recursive rm", via: ["time"]),
        Wrapped(["busybox", "rm", "-rf", "/"], "recursive rm", via: ["busybox"]),
        Wrapped(["npx", "--yes", "cdk", "destroy"], "cdk destroy", via: ["npx"]),
        Wrapped(["npm", "exec", "--", "prisma", "migrate", "reset"], "prisma migrate reset", via: ["npm exec"]),
        Wrapped(["npx", "-c", "cdk destroy --force"], "cdk destroy", via: ["npx"]),
        Wrapped(["bundle", "exec", "rails", "db:drop"], "rails db:drop", via: ["bundle exec"]),
        Wrapped(["uv", "run", "--with", "django", "python", "manage.py", "flush"], "python manage.py flush", via: ["uv run"]),
        Wrapped(["su", "-", "root", "-c", "rm -rf /"], "recursive rm", via: ["su -c"]),
        Wrapped(["sh", "-c", "eval 'rm -rf /'"], "recursive rm", via: ["sh -c", "eval"]),
        Wrapped(["sh", "-c", "echo $(rm -rf /)"], "recursive rm", via: ["sh -c", "$(…)"]),
        Wrapped(["sh", "-c", "echo \"`rm -rf /`\""], "recursive rm", via: ["sh -c", "$(…)"]),
        Wrapped(["sh", "-c", "diff <(rm -rf /) x"], "recursive rm", via: ["sh -c", "$(…)"]),
        Wrapped(["sh", "-c", "echo ${x:-$(rm -rf /)}"], "recursive rm", via: ["sh -c", "$(…)", "$(…)"]),
        Wrapped(["sh", "-c", "echo 'rm -rf /' | sh"], "recursive rm", via: ["sh -c", "sh (stdin)"]),
        Wrapped(["sh", "-c", "rm -rf \"$1\"", "sh", "/"], "recursive rm", via: ["sh -c"]),
        Wrapped(["sh", "-c", "\"$@\"", "sh", "rm", "-rf", "/"], "recursive rm", via: ["sh -c"]),
        Wrapped(["bash", "-c", "if true; then\n  rm -rf /\nfi"], "recursive rm", via: ["bash -c"]),
        Wrapped(["bash", "-c", "for d in a b; do rm -rf /$d; done"], "recursive rm", via: ["bash -c"]),
        Wrapped(["bash", "-c", "cleanup() { rm -rf /; }; cleanup"], "recursive rm", via: ["bash -c"]),
        Wrapped(["bash", "-c", "ls 2>&1 >/dev/null; \\rm -rf /"], "recursive rm", via: ["bash -c"]),
        Wrapped(["bash", "-c", "r\\\nm -r\\\nf /"], "recursive rm", via: ["bash -c"]),
        Wrapped(["bash", "-c", "rm $'-\\x72f' /"], "recursive rm", via: ["bash -c"]),
        Wrapped(["sh", "-c", "sudo sh -c 'timeout 9 env A=1 nice rm -rf /'"], "recursive rm",
                via: ["sh -c", "sudo", "sh -c", "timeout", "env", "nice"]),
        Wrapped(["terragrunt", "run-all", "destroy"], "terraform destroy", via: ["terragrunt run-all"]),
    ]

    @Test(arguments: wrapped)
    func aRuleIsFoundThroughWrappersAndScripts(example: Wrapped) throws {
        let match = try #require(defaultClassifier.classify(argv: example.argv.map(bytes), environment: [], context: testContext()))
        #expect(match.rule == example.rule)
        #expect(match.via == example.via)
    }

    @Test func theMatchNamesTheCommandAfterUnwrappingAndSaysWhyInWords() throws {
        let match = try #require(defaultClassifier.classify(
            argv: [bytes("sh"), bytes("-c"), bytes("cd src && sudo -u x rm -rf ~/")], environment: [], context: testContext()))
        #expect(match.command == [bytes("rm"), bytes("-rf"), bytes("/home/agent/")])
        #expect(match.reason == "rm with -r on /home/agent (your home directory)")
        #expect(match.action == .hold)

        let root = try #require(defaultClassifier.classify(argv: [bytes("rm"), bytes("-fr"), bytes(".")], environment: [], context: testContext()))
        #expect(root.reason == "rm with -r on /work/ws (the workspace root)")
        let psql = try #require(defaultClassifier.classify(
            argv: [bytes("psql"), bytes("-c"), bytes("DROP   TABLE\n users;")], environment: [], context: testContext()))
        #expect(psql.reason == "psql running 'DROP TABLE users'")
        let tf = try #require(defaultClassifier.classify(
            argv: [bytes("terraform"), bytes("apply")], environment: [bytes("TF_CLI_ARGS_apply=-destroy")], context: testContext()))
        #expect(tf.reason == "terraform with TF_CLI_ARGS_apply=-destroy in its environment")
        let aws = try #require(defaultClassifier.classify(
            argv: "aws --profile prod ec2 terminate-instances --instance-ids i-1".split(separator: " ").map { bytes(String($0)) },
            environment: [], context: testContext()))
        #expect(aws.reason == "aws ec2 terminate-instances")
    }

    /// What an approval of a held command line lets it change: the paths its held commands name.
    @Test(arguments: [
        (["rm", "-rf", ".git"], ["/work/ws/.git"]),
        (["rm", "-rf", ".git", "app/.env"], ["/work/ws/.git", "/work/ws/app/.env"]),
        (["sh", "-c", "rm -rf *"], ["/work/ws"]),
        (["rm", "-rf", ".git/*"], nil), // decided by "recursive rm in .git", which looks at words, not paths
        (["rm", "-rf", "."], ["/work/ws"]),
        (["sh", "-c", "rm -rf .git; cd app && rm -r .env"], ["/work/ws/.git", "/work/ws/app/.env"]),
        (["sh", "-c", "rm -rf .git \"$X\""], nil),
        (["sh", "-c", "rm -rf .git; terraform destroy"], nil),
        (["terraform", "destroy"], nil),
    ] as [([String], [String]?)])
    func aHeldCommandLineNamesThePathsItsApprovalCovers(argv: [String], paths: [String]?) throws {
        guard let match = defaultClassifier.classify(argv: argv.map(bytes), environment: [], context: testContext()) else {
            Issue.record("nothing matched")
            return
        }
        #expect(match.action == .hold)
        #expect(match.paths == paths?.map(bytes), "\(match.paths.map { $0.map(displayWord) } ?? [])")
    }

    @Test(arguments: ["-rf", "-fr", "-Rf", "-fR", "-r", "-R", "--recursive", "-vrf", "-f -r", "-rv --force"])
    func bundledAndSeparateShortFlagsAreUnderstood(flags: String) {
        let argv = ["rm"] + flags.split(separator: " ").map(String.init) + ["/"]
        #expect(defaultClassifier.classify(argv: argv.map(bytes), environment: [], context: testContext())?.rule == "recursive rm")
    }

    @Test(arguments: [
        (["sh", "-c", "cd / && rm -rf *"], "on '/*' (a glob in the filesystem root)"),
        (["sh", "-c", "cd .. ; rm -rf ws"], "on /work/ws (the workspace root)"),
        (["sh", "-c", "cd \"$X\" && rm -rf build"], "on a path only the running shell knows"),
        (["sh", "-c", "rm -rf \"$dir\""], "on a path only the running shell knows"),
        (["sh", "-c", "rm -rf $(pwd)"], "on a path only the running shell knows"),
        (["sh", "-c", "rm -rf $HOME/"], "on /home/agent (your home directory)"),
        (["sh", "-c", "cd; rm -rf .cache"], "on /home/agent/.cache (outside the workspace)"),
        (["env", "-C", "/tmp", "rm", "-rf", "x"], "on /tmp/x (outside the workspace)"),
        (["sudo", "-D", "/", "rm", "-rf", "etc"], "on /etc (outside the workspace)"),
        (["xargs", "rm", "-rf"], "on arguments it reads from its input"),
    ])
    func pathsAreResolvedAgainstTheDirectoryTheCommandRunsIn(argv: [String], reason: String) throws {
        let match = try #require(defaultClassifier.classify(argv: argv.map(bytes), environment: [], context: testContext()))
        #expect(match.reason.hasSuffix(reason), "\(match.reason)")
    }

    @Test(arguments: [
        ["sh", "-c", "cd build && rm -rf *"],
        ["sh", "-c", "cd /work/ws/build; rm -rf ../dist"],
        ["sh", "-c", "rm -rf build/*.o"],
        ["sh", "-c", "echo rm -rf /"],
        ["sh", "-c", "# rm -rf /\nls"],
        ["sh", "-c", "cat <<EOF\nrm -rf /\nEOF\n"],
        ["sh", "-c", "printf '%s' 'rm -rf /' > notes.txt"],
        ["sh", "script.sh"],
        ["bash", "-n", "build.sh"],
        ["command", "-v", "rm"],
        ["sudo", "-l", "rm", "-rf", "/"],
        ["env"],
        ["xargs"],
        ["timeout", "5"],
    ])
    func harmlessShellCommandLinesMatchNothing(argv: [String]) {
        let match = defaultClassifier.classify(argv: argv.map(bytes), environment: [], context: testContext())
        #expect(match == nil, "\(match?.rule ?? ""): \(match?.reason ?? "")")
    }

    @Test func theExecutablesBasenameCountsWhateverArgv0Says() {
        let context = testContext()
        let rmArgs = [bytes("-rf"), bytes("/")]
        #expect(defaultClassifier.classify(argv: [bytes("/usr/bin/rm")] + rmArgs, environment: [], context: context) != nil)
        #expect(defaultClassifier.classify(argv: [bytes("./my-rm")] + rmArgs, environment: [], context: context) == nil)
        #expect(defaultClassifier.classify(argv: [bytes("/opt/rm/bin/safe")] + rmArgs, environment: [], context: context) == nil)
        // `exec -a innocent rm -rf /`: argv[0] lies, the executable does not.
        #expect(defaultClassifier.classify(
            argv: [bytes("innocent")] + rmArgs, environment: [], executable: bytes("/usr/bin/rm"), context: context)?.rule == "recursive rm")
        #expect(defaultClassifier.classify(
            argv: [bytes("innocent"), bytes("-c"), bytes("rm -rf /")], environment: [], executable: bytes("/bin/sh"), context: context)?.via == ["sh -c"])
        #expect(defaultClassifier.classify(argv: [bytes("rm")] + rmArgs, environment: [], executable: bytes("/usr/bin/true"), context: context) != nil)
    }

    @Test func bytesThatAreNotUTF8NeitherCrashNorHideAMatch() throws {
        let context = testContext()
        let bad: [UInt8] = [0xFF, 0xFE, 0xC0, 0x80]
        let outside = try #require(defaultClassifier.classify(
            argv: [bytes("rm"), bytes("-rf"), bytes("/tmp/") + bad], environment: [bad], context: context))
        #expect(outside.reason == "rm with -r on $'/tmp/\\xFF\\xFE\\xC0\\x80' (outside the workspace)")
        #expect(outside.command[2] == bytes("/tmp/") + bad)
        #expect(defaultClassifier.classify(argv: [bytes("rm"), bytes("-rf"), bytes("/work/ws/") + bad], environment: [], context: context) == nil)
        #expect(defaultClassifier.classify(argv: [bytes("terraform"), bytes("destroy"), bytes("-var=x=") + bad], environment: [], context: context) != nil)
        #expect(defaultClassifier.classify(argv: [bytes("sh"), bytes("-c"), bytes("rm -rf /") + bad + bytes("; ") + bad], environment: [], context: context) != nil)
        #expect(defaultClassifier.classify(argv: [bad, bytes("-rf"), bytes("/")], environment: [bytes("TF_CLI_ARGS=") + bad], context: context) == nil)
        // A workspace whose name is not UTF-8 is compared byte for byte.
        let odd = ExecContext(workspace: bytes("/w/") + bad, cwd: bytes("/w/") + bad, home: bytes("/h"))
        #expect(defaultClassifier.classify(argv: [bytes("rm"), bytes("-rf"), bytes("build")], environment: [], context: odd) == nil)
        #expect(defaultClassifier.classify(argv: [bytes("rm"), bytes("-rf"), bytes(".")], environment: [], context: odd)?.rule == "recursive rm")
    }

    @Test func theMostSevereDecisionWinsAndAnAllowRuleFirstExemptsItsCommand() throws {
        let classifier = ExecClassifier(rules: [
            ExecRule(name: "tests may reset", argv: ["git", "reset"], args: ["fixture"], action: .allow),
            ExecRule(name: "audit reset", argv: ["git", "reset"], action: .audit),
            ExecRule(name: "hold push", argv: ["git", "push"]),
            ExecRule(name: "never drop", argv: ["dropdb"], action: .deny),
        ])
        func decide(_ script: String) -> ExecMatch? {
            classifier.classify(argv: [bytes("sh"), bytes("-c"), bytes(script)], environment: [], context: testContext())
        }
        #expect(decide("git reset fixture") == nil)
        #expect(decide("git reset HEAD")?.action == .audit)
        #expect(decide("git reset HEAD; git push; dropdb x; git push")?.rule == "never drop")
        #expect(decide("git reset HEAD; git push")?.rule == "hold push")
        #expect(decide("git reset fixture; git reset HEAD")?.rule == "audit reset")
        let explained = classifier.explain(argv: [bytes("git"), bytes("reset"), bytes("fixture")], environment: [], context: testContext())
        #expect(explained.contains("rule \"tests may reset\" (allow)"))
        #expect(explained.hasSuffix("decision: it runs (rule \"tests may reset\" allows git reset with argument fixture)\n"))
    }

    @Test func aRuleWithAnEmptyArgvMatchesNothing() {
        let classifier = ExecClassifier(rules: [ExecRule(name: "empty", argv: [])])
        #expect(classifier.classify(argv: [bytes("rm"), bytes("-rf"), bytes("/")], environment: [], context: testContext()) == nil)
    }

    @Test func explainShowsEachCommandTheWrappersAndTheDecision() {
        let text = defaultClassifier.explain(
            argv: [bytes("bash"), bytes("-lc"), bytes("cd infra && timeout 60 terraform destroy")], environment: [], context: testContext())
        #expect(text == """
            command: bash -lc 'cd infra && timeout 60 terraform destroy'
            1. bash -lc 'cd infra && timeout 60 terraform destroy'
               no rule matches
            2. cd infra
               via bash -c
               no rule matches
            3. timeout 60 terraform destroy
               via bash -c
               no rule matches
            4. terraform destroy
               via bash -c, then timeout
               rule "terraform destroy" (hold): terraform destroy
            decision: hold for sign-off, by rule "terraform destroy": terraform destroy

            """)
        let nothing = defaultClassifier.explain(argv: [bytes("ls"), bytes("-la")], environment: [], context: testContext())
        #expect(nothing.hasSuffix("1. ls -la\n   no rule matches\ndecision: no rule matches; it runs\n"))
        let lied = defaultClassifier.explain(argv: [bytes("x"), bytes("-rf"), bytes("/")], environment: [], executable: bytes("/bin/rm"), context: testContext())
        #expect(lied.contains("executable: /bin/rm\n"))
        #expect(defaultClassifier.explain(argv: [], environment: [], context: testContext()).hasSuffix("decision: nothing to run\n"))
    }

    @Test func nestingDeeperThanTheLimitIsHeldAsUnclassifiable() throws {
        let wrappers = Array(repeating: "nice", count: 40) + ["ls"]
        let match = try #require(defaultClassifier.classify(argv: wrappers.map(bytes), environment: [], context: testContext()))
        #expect(match.rule == ExecClassifier.unclassifiableRule)
        #expect(match.action == .hold)
        #expect(match.reason.contains("nest more than 16 deep"))

        var substitutions = "ls"
        for _ in 0..<40 { substitutions = "echo $(\(substitutions))" }
        #expect(defaultClassifier.classify(argv: [bytes("sh"), bytes("-c"), bytes(substitutions)], environment: [], context: testContext())?.rule
            == ExecClassifier.unclassifiableRule)
    }

    @Test func aDenyFoundBeforeTheLimitStillWins() throws {
        let classifier = ExecClassifier(rules: [ExecRule(name: "no", argv: ["dropdb"], action: .deny)])
        let script = "dropdb x; " + String(repeating: "a;", count: ExecClassifier.maximumCommands + 10)
        let match = try #require(classifier.classify(argv: [bytes("sh"), bytes("-c"), bytes(script)], environment: [], context: testContext()))
        #expect(match.rule == "no")
    }

    @Test(arguments: [
        String(repeating: "a;", count: 20_000),
        String(repeating: "x ", count: 300_000),
        "\"$@\" " + String(repeating: "\"$@\" ", count: 5_000),
        "echo " + String(repeating: "$1", count: 40_000),
        String(repeating: "env -S ", count: 2_000) + "ls",
    ])
    func hugeOrMultiplyingInputIsCutOffAndHeld(script: String) {
        let parameters = [bytes("sh")] + Array(repeating: bytes(String(repeating: "p", count: 1_000)), count: 1_000)
        let match = defaultClassifier.classify(argv: [bytes("sh"), bytes("-c"), bytes(script)] + parameters, environment: [], context: testContext())
        #expect(match?.rule == ExecClassifier.unclassifiableRule || match == nil)
    }

    @Test func aLargeEnvironmentCostsNothingPerCommand() {
        let environment = (0..<100_000).map { bytes("VAR\($0)=value") } + [bytes("TF_CLI_ARGS=-destroy")]
        let script = String(repeating: "terraform version; ", count: 5_000)
        let match = defaultClassifier.classify(argv: [bytes("sh"), bytes("-c"), bytes(script)], environment: environment, context: testContext())
        #expect(match?.rule == "TF_CLI_ARGS -destroy")
    }

    @Test func arbitraryBytesNeverCrashTheClassifier() {
        var generator = SplitMix64(seed: 42)
        let alphabet = Array("rm -rf / ; && || | & ( ) $( ` ' \" \\ \n # ~ * $@ $1 ${ } << <<< EOF sh -c env -S sudo xargs =".utf8) + [0xFF, 0x00, 0xC3]
        for _ in 0..<2_000 {
            let length = Int(generator.next() % 200)
            let script = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let argv = [bytes("sh"), bytes("-c"), script, bytes("sh"), script]
            _ = defaultClassifier.classify(argv: argv, environment: [script], context: testContext())
            _ = defaultClassifier.classify(argv: [bytes("env"), bytes("-S"), script], environment: [], context: testContext())
            _ = defaultClassifier.explain(argv: script.split(separator: 0x20).map(Array.init), environment: [], context: testContext())
        }
    }
}

/// A small deterministic generator, so a failing input can be found again.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
