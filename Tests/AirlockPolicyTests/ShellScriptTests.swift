import Testing

@testable import AirlockPolicy

/// The shell lexer behind `sh -c`: which simple commands a script runs, with which words.
@Suite struct ShellScriptTests {
    func parse(_ script: String, parameters: [String]? = nil) -> ShellScript {
        var lexer = ShellLexer(
            bytes(script), home: bytes("/home/agent"), parameters: parameters?.map { CommandWord(bytes($0)) },
            budget: ExecBudget(words: 10_000, commands: 10_000, bytes: 1 << 20))
        return lexer.parse()
    }

    /// Each command's words, shown as a shell would read them back.
    func commands(_ script: String, parameters: [String]? = nil) -> [String] {
        parse(script, parameters: parameters).commands.filter { !$0.words.isEmpty }.map { displayCommand($0.words.map(\.bytes)) }
    }

    @Test(arguments: [
        ("a b; c && d || e | f & g\nh", ["a b", "c", "d", "e", "f", "g", "h"]),
        ("echo 'a b' \"c $HOME\" d\\ e", ["echo 'a b' 'c /home/agent' 'd e'"]),
        ("echo ~ ~/x '~' a~", ["echo /home/agent /home/agent/x '~' 'a~'"]),
        ("A=1 B=\"x y\" cmd arg", ["cmd arg"]),
        ("if x; then y; else z; fi", ["x", "y", "z"]),
        ("while read l; do rm \"$l\"; done", ["read l", "rm '$l'"]),
        ("for f in a b; do rm $f; done", ["rm '$f'"]),
        ("case $x in rm) echo hi;; esac", ["echo hi"]),
        ("! rm x", ["rm x"]),
        ("{ rm a; rm b; }", ["rm a", "rm b"]),
        ("(cd sub && rm a)", ["cd sub", "rm a"]),
        ("f() { rm -rf /; }; f", ["f", "rm -rf /", "f"]),
        ("function g { rm -rf /; }", ["rm -rf /"]),
        ("a # b c\nd", ["a", "d"]),
        ("a#b", ["'a#b'"]),
        ("a > out 2>&1 < in >> log &> all", ["a"]),
        ("a 2> err b", ["a b"]),
        ("rm \\\n -rf /", ["rm -rf /"]),
        ("r\"m\" '-'rf /", ["rm -rf /"]),
        ("echo $'\\x2d\\x72\\x66\\n\\'q\\''", ["echo $'-rf\\n\\'q\\''"]),
        ("echo \"a\\\"b\\$c\\\\d\\e\"", ["echo 'a\"b$c\\d\\e'"]),
        ("cat <<EOF\nrm -rf /\nEOF\necho done", ["cat", "echo done"]),
        ("cat <<-'EOF' | psql\n\tDROP TABLE x;\n\tEOF\nls", ["cat", "psql", "ls"]),
        ("echo 'unterminated", ["echo unterminated"]),
        ("echo \"unterminated $(", ["echo 'unterminated $('"]),
        ("", []),
        (";;;&&||", []),
    ])
    func aScriptSplitsIntoItsSimpleCommands(script: String, expected: [String]) {
        #expect(commands(script) == expected)
    }

    @Test func assignmentsBeforeACommandAreKeptApart() {
        let script = parse("A=1 B=\"x y\" cmd C=3; D=4; \"E\"=5 x")
        let assignments = script.commands.map { command in command.assignments.map { String(decoding: $0, as: UTF8.self) } }
        #expect(assignments == [["A=1", "B=x y"], ["D=4"], []])
        #expect(script.commands[0].words.map(\.bytes) == [bytes("cmd"), bytes("C=3")])
        #expect(script.commands[2].words.map(\.bytes) == [bytes("E=5"), bytes("x")])
    }

    @Test func nestedScriptsAreCollectedFromSubstitutionsAndProcessSubstitutions() {
        let script = parse("echo $(rm -rf /) \"`git push -f`\" <(terraform destroy) $((1 + $(id -u)))")
        #expect(script.commands.count == 1)
        #expect(script.commands[0].nested.map { String(decoding: $0, as: UTF8.self) }
            == ["rm -rf /", "git push -f", "terraform destroy", "(1 + $(id -u))"])
        #expect(script.commands[0].words.dropFirst().allSatisfy { $0.isUnknown })
    }

    @Test func heredocsHereStringsAndPipesShowWhatACommandReads() {
        let script = parse("psql <<SQL\nDROP TABLE t;\nSQL\nredis-cli <<< FLUSHALL\necho 'DELETE FROM t' | mysql db\ncat <<EOF | sqlite3 x.db\nTRUNCATE t\nEOF\n")
        let stdin = script.commands.indices.map { script.stdin(of: $0).map { String(decoding: $0, as: UTF8.self) } }
        #expect(stdin == ["DROP TABLE t;\n", "FLUSHALL\n", nil, "DELETE FROM t", "TRUNCATE t\n", "TRUNCATE t\n"])
    }

    @Test func globsAndExpansionsAreMarked() {
        let words = parse("rm -rf * 'lit*' a/b?c \"$x\" $HOME ${HOME}/y $1").commands[0].words
        #expect(words.map(\.globStart) == [nil, nil, 0, nil, 3, nil, nil, nil, nil])
        #expect(words.map(\.isUnknown) == [false, false, false, false, false, true, false, false, true])
        #expect(words[6].bytes == bytes("/home/agent"))
        #expect(words[7].bytes == bytes("/home/agent/y"))
    }

    @Test func positionalParametersOfShDashCAreSubstituted() {
        #expect(commands("rm -rf \"$1\" $2x ${3}", parameters: ["sh", "/", "a b", "c"]) == ["rm -rf / 'a bx' c"])
        #expect(commands("\"$@\"", parameters: ["sh", "rm", "-rf", "/"]) == ["rm -rf /"])
        #expect(commands("echo \"$*\" $9", parameters: ["sh", "a", "b"]) == ["echo 'a b' ''"])
        #expect(parse("\"$@\"").commands[0].words[0].isUnknown)
    }

    @Test func envSplitStringSplitsOnBlanksOnly() {
        var lexer = ShellLexer(
            bytes("rm -rf / ;x|y 'a b'"), home: bytes("/h"), parameters: [], wordsOnly: true,
            budget: ExecBudget(words: 100, commands: 100, bytes: 100))
        #expect(lexer.parse().commands.flatMap(\.words).map(\.bytes) == [bytes("rm"), bytes("-rf"), bytes("/"), bytes(";x|y"), bytes("a b")])
    }

    @Test func theWordBudgetStopsALongScript() {
        var lexer = ShellLexer(
            bytes(String(repeating: "a ", count: 1_000)), home: bytes("/h"), parameters: nil,
            budget: ExecBudget(words: 100, commands: 100, bytes: 100))
        let script = lexer.parse()
        #expect(script.exhausted)
        #expect(script.commands.isEmpty || script.commands[0].words.count <= 100)
    }

    @Test(arguments: [
        ("DROP TABLE users", ["drop", "table", "users"]),
        ("  delete from \"Users\" where(id=1); truncate t", ["delete", "from", "users", "where", "(", "id", "=", "1", ")"]),
        ("/* c */ DROP -- x\n DATABASE 'a;b'", ["drop", "database", "'"]),
        ("select 'it''s;' ; ", ["select", "'"]),
    ])
    func sqlIsSplitIntoStatementsOfLowercasedWords(text: String, firstWords: [String]) {
        let statements = sqlStatements(bytes(text))
        #expect(statements.first?.words.map { String(decoding: $0, as: UTF8.self) } == firstWords)
    }

    @Test(arguments: [
        ("DELETE FROM * !WHERE", "delete from users", true),
        ("DELETE FROM * !WHERE", "DELETE FROM users WHERE id = 1", false),
        ("DELETE FROM * !WHERE", "delete from", false),
        ("DROP DATABASE|SCHEMA|TABLE", "drop table if exists x", true),
        ("DROP DATABASE|SCHEMA|TABLE", "drop index x", false),
        ("TRUNCATE", "truncate", true),
        ("TRUN*", "Truncate table x", true),
    ])
    func sqlPatternsMatchTheStartOfAStatement(pattern: String, statement: String, matches: Bool) {
        #expect(SQLPattern(pattern).matches(sqlStatements(bytes(statement)).first ?? SQLStatement()) == matches)
    }
}
