/// Commands that run another command: `sh -c`, `env`, `sudo`, `xargs`, `timeout`, … Looking
/// through them is what lets a rule about `rm` see `sudo -u x rm -rf ~` and `bash -lc "…"`.
///
/// Each wrapper's options are read the way its own getopt reads them (stopping at the first
/// operand), with the options that take a value listed, so that `timeout -s KILL 5 terraform
/// destroy` finds `terraform`, not `KILL`. A wrapper not listed here is an ordinary command.

/// What a wrapper runs.
enum InnerCommand {
    /// A command line, with the wrapper's changes to environment, directory and so on applied.
    case command(SimpleCommand)
    /// A shell script; its commands inherit `base`'s environment, directory and `via`.
    case script([UInt8], parameters: [CommandWord]?, base: SimpleCommand)
}

/// Options that take a value, and what else a plain wrapper needs.
struct WrapperOptions: Sendable {
    var shortWithValue: Set<UInt8> = []
    var longWithValue: Set<[UInt8]> = []
    /// Operands before the command (`timeout`'s DURATION, `chrt`'s PRIORITY).
    var skipOperands = 0
    /// Short options that mean no command is run (`command -v`, `chrt -p PID`).
    var noCommand: Set<UInt8> = []

    init(_ short: String = "", long: [String] = [], skipOperands: Int = 0, noCommand: String = "") {
        shortWithValue = Set(short.utf8)
        longWithValue = Set(long.map { Array($0.utf8) })
        self.skipOperands = skipOperands
        self.noCommand = Set(noCommand.utf8)
    }
}

private enum Wrapper {
    case shell
    case env
    case sudo
    case xargs
    case su
    case eval
    case busybox
    /// `npx`, `npm exec`: `-c 'command string'` or a package's binary.
    case packageRunner
    /// `terragrunt run-all CMD`, `terragrunt run -- CMD`: terragrunt running CMD in each module.
    case terragrunt
    case plain(WrapperOptions)
    /// `bundle exec`, `poetry run`: a tool's subcommand that runs a command.
    case subcommand([String], then: Wrapper.Then)

    enum Then {
        case packageRunner
        case plain(WrapperOptions)
    }
}

private let wrappers: [[UInt8]: Wrapper] = {
    var table: [String: Wrapper] = [
        "env": .env, "sudo": .sudo, "xargs": .xargs, "su": .su, "eval": .eval,
        "busybox": .busybox, "toybox": .busybox,
        "npx": .packageRunner, "bunx": .packageRunner, "pnpx": .packageRunner,
        "terragrunt": .terragrunt,
        "doas": .plain(WrapperOptions("uC", noCommand: "C")),
        "timeout": .plain(WrapperOptions("ks", long: ["kill-after", "signal"], skipOperands: 1)),
        "nice": .plain(WrapperOptions("n", long: ["adjustment"])),
        "nohup": .plain(WrapperOptions()),
        "stdbuf": .plain(WrapperOptions("ioe", long: ["input", "output", "error"])),
        "ionice": .plain(WrapperOptions("cnpPu", long: ["class", "classdata", "pid", "pgid", "uid"], noCommand: "pPu")),
        "chrt": .plain(WrapperOptions("TPD", long: ["sched-runtime", "sched-period", "sched-deadline"], skipOperands: 1, noCommand: "pm")),
        "setsid": .plain(WrapperOptions()),
        "time": .plain(WrapperOptions("fo", long: ["format", "output"])),
        "exec": .plain(WrapperOptions("a")),
        "command": .plain(WrapperOptions(noCommand: "vV")),
        "npm": .subcommand(["exec", "x"], then: .packageRunner),
        "pnpm": .subcommand(["exec", "dlx"], then: .packageRunner),
        "yarn": .subcommand(["exec", "dlx"], then: .packageRunner),
        "bundle": .subcommand(["exec"], then: .plain(WrapperOptions())),
        "poetry": .subcommand(["run"], then: .plain(WrapperOptions())),
        "pipenv": .subcommand(["run"], then: .plain(WrapperOptions())),
        "uv": .subcommand(["run"], then: .plain(WrapperOptions(
            "pw", long: ["with", "python", "project", "directory", "package", "env-file", "extra", "group", "index", "with-requirements"]))),
    ]
    for shell in ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash"] { table[shell] = .shell }
    // The dynamic loader runs the program named by its first operand: `ld.so /bin/rm -rf x`.
    let loader = Wrapper.plain(WrapperOptions(long: ["library-path", "preload", "argv0", "audit", "inhibit-rpath",
                                                     "glibc-hwcaps-prepend", "glibc-hwcaps-mask"]))
    for name in ["ld.so", "ld-linux-x86-64.so.2", "ld-linux.so.2", "ld-linux-aarch64.so.1", "ld-linux-armhf.so.3",
                 "ld64.so.1", "ld64.so.2", "ld-linux-riscv64-lp64d.so.1", "ld-musl-x86_64.so.1", "ld-musl-aarch64.so.1"] {
        table[name] = loader
    }
    return Dictionary(uniqueKeysWithValues: table.map { (Array($0.key.utf8), $0.value) })
}()

private extension Wrapper.Then {
    var wrapper: Wrapper {
        switch self {
        case .packageRunner: .packageRunner
        case .plain(let options): .plain(options)
        }
    }
}

extension SimpleCommand {
    /// What this command runs, if it is a wrapper; `keep` says which environment entries matter.
    func innerCommands(home: [UInt8], budget: ExecBudget, keep: ([UInt8]) -> Bool) -> [InnerCommand] {
        for name in names {
            guard let wrapper = wrappers[name] else { continue }
            return inner(wrapper, name: String(decoding: name, as: UTF8.self), from: 1, home: home, budget: budget, keep: keep)
        }
        return []
    }

    private func inner(
        _ wrapper: Wrapper, name: String, from start: Int, home: [UInt8], budget: ExecBudget, keep: ([UInt8]) -> Bool
    ) -> [InnerCommand] {
        switch wrapper {
        case .shell: return shell(name)
        case .env: return env(name, home: home, budget: budget, keep: keep)
        case .sudo: return sudo(name, keep: keep)
        case .xargs:
            var reader = OptionReader(words, from: start, WrapperOptions(
                "adEILnPs", long: ["arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"]))
            while reader.next() != nil {}
            guard !reader.operands.isEmpty else { return [] }  // echo
            var command = running(reader.operands, through: name)
            command.unknownArguments = true
            return [.command(command)]
        case .su:
            var reader = OptionReader(words, from: start, WrapperOptions(
                "csgGw", long: ["command", "session-command", "shell", "group", "supp-group", "whitelist-environment"]))
            // su permutes: options may follow the user name.
            while reader.index < words.count && !reader.sawDoubleDash {
                guard let options = reader.next() else {
                    reader.index += 1
                    continue
                }
                for option in options where option.is("c", "command") || option.is(nil, "session-command") {
                    if let script = option.value, !script.isUnknown { return [.script(script.bytes, parameters: nil, base: via(name + " -c"))] }
                }
            }
            return []
        case .eval:
            let text = Array(words.dropFirst().map(\.bytes).joined(separator: [UInt8(ascii: " ")]))
            return [.script(text, parameters: nil, base: via(name))]
        case .busybox:
            return words.count > 1 ? [.command(running(words.dropFirst(), through: name))] : []
        case .packageRunner:
            var reader = OptionReader(words, from: start, WrapperOptions(
                "pcw", long: ["package", "call", "workspace", "cache", "userconfig", "registry"]))
            while let options = reader.next() {
                for option in options where option.is("c", "call") {
                    if let script = option.value, !script.isUnknown { return [.script(script.bytes, parameters: nil, base: via(name))] }
                }
            }
            guard var first = reader.operands.first else { return [] }
            // `npx aws-cdk@2 destroy` runs the package's binary, `aws-cdk`.
            if let at = first.bytes.dropFirst().firstIndex(of: UInt8(ascii: "@")) { first.bytes = Array(first.bytes[..<at]) }
            return [.command(running([first] + reader.operands.dropFirst(), through: name))]
        case .terragrunt:
            guard words.count > 1, words[1].bytes == Array("run-all".utf8) || words[1].bytes == Array("run".utf8) else { return [] }
            return [.command(running([words[0]] + words.dropFirst(2), through: name + " " + String(decoding: words[1].bytes, as: UTF8.self)))]
        case .plain(let options):
            var reader = OptionReader(words, from: start, options)
            while let parsed = reader.next() {
                if parsed.contains(where: { if case .short(let c, _) = $0 { options.noCommand.contains(c) } else { false } }) { return [] }
            }
            let command = reader.operands.dropFirst(options.skipOperands)
            return command.isEmpty ? [] : [.command(running(command, through: name))]
        case .subcommand(let subcommands, let then):
            guard words.count > 1, subcommands.contains(where: { Array($0.utf8) == words[1].bytes }) else { return [] }
            let label = name + " " + String(decoding: words[1].bytes, as: UTF8.self)
            return inner(then.wrapper, name: label, from: 2, home: home, budget: budget, keep: keep)
        }
    }

    /// This command's circumstances for the commands of a script it runs.
    private func via(_ label: String) -> SimpleCommand {
        running([], through: label)
    }

    /// `sh -c SCRIPT [ARG0 ARG1…]`, or a shell reading a script the pipeline shows it.
    private func shell(_ name: String) -> [InnerCommand] {
        var reader = OptionReader(words, from: 1, WrapperOptions("oO", long: ["rcfile", "init-file"]))
        var hasCommandString = false
        var readsStdin = false
        while true {
            // `+o name`, `+x`: options turned off, which read like operands to getopt.
            if let word = words[safe: reader.index], word.bytes.count >= 2, word.bytes[0] == UInt8(ascii: "+") {
                reader.index += word.bytes == Array("+o".utf8) || word.bytes == Array("+O".utf8) ? 2 : 1
                continue
            }
            guard let options = reader.next() else { break }
            for case .short(let c, _) in options {
                if c == UInt8(ascii: "c") { hasCommandString = true }
                if c == UInt8(ascii: "s") { readsStdin = true }
            }
        }
        let operands = Array(reader.operands)
        if hasCommandString {
            guard let script = operands.first, !script.isUnknown else { return [] }
            return [.script(script.bytes, parameters: Array(operands.dropFirst()), base: via(name + " -c"))]
        }
        if operands.isEmpty || readsStdin, let stdin {
            return [.script(stdin, parameters: [words[0]] + operands, base: via(name + " (stdin)"))]
        }
        return []
    }

    /// `env [-i] [-u NAME] [-C DIR] [-S STRING] [NAME=VALUE…] [COMMAND…]`.
    private func env(_ name: String, home: [UInt8], budget: ExecBudget, keep: ([UInt8]) -> Bool) -> [InnerCommand] {
        var reader = OptionReader(words, from: 1, WrapperOptions("uCS", long: ["unset", "chdir", "split-string"]))
        var environment = self.environment
        var cwd = self.cwd
        while true {
            if reader.operands.first?.bytes == [UInt8(ascii: "-")] {
                environment = []
                reader.index += 1
                continue
            }
            guard let options = reader.next() else { break }
            for option in options {
                if option.is("i", "ignore-environment") { environment = [] }
                if option.is("u", "unset"), let name = option.value?.bytes {
                    environment.removeAll { $0.starts(with: name + [UInt8(ascii: "=")]) }
                }
                if option.is("C", "chdir") { cwd = resolveDirectory(option.value, from: cwd) }
                if option.is("S", "split-string"), let string = option.value {
                    // The string is split into arguments and read as if written in their place.
                    guard !string.isUnknown, budget.spendBytes(string.bytes.count) else { return [] }
                    var lexer = ShellLexer(string.bytes, home: home, parameters: [], wordsOnly: true, budget: budget)
                    reader.insert(lexer.parse().commands.flatMap(\.words))
                }
            }
        }
        return wrapped(&reader, environment: environment, cwd: cwd, through: name, keep: keep)
    }

    /// The command a wrapper runs once its options are read: leading `NAME=VALUE` words join its
    /// environment, the rest is the command line.
    private func wrapped(_ reader: inout OptionReader, environment: [[UInt8]], cwd: [UInt8]?, through name: String,
                         keep: ([UInt8]) -> Bool) -> [InnerCommand] {
        var environment = environment
        while let word = reader.operands.first, isAssignment(word) {
            if keep(word.bytes) { environment.append(word.bytes) }
            reader.index += 1
        }
        guard !reader.operands.isEmpty else { return [] }
        var command = running(reader.operands, through: name)
        command.environment = environment
        command.cwd = cwd
        return [.command(command)]
    }

    /// `sudo [options] [NAME=VALUE…] COMMAND…`.
    private func sudo(_ name: String, keep: ([UInt8]) -> Bool) -> [InnerCommand] {
        var reader = OptionReader(words, from: 1, WrapperOptions(
            "CDghpRrTtUu",
            long: ["close-from", "chdir", "group", "host", "prompt", "chroot", "role", "command-timeout", "type", "other-user", "user"]))
        var cwd = self.cwd
        while let options = reader.next() {
            for option in options {
                // Editing, listing and validating run no command.
                if option.is("e", "edit") || option.is("l", "list") || option.is("v", "validate") || option.is("K", "remove-timestamp") {
                    return []
                }
                if option.is("D", "chdir") { cwd = resolveDirectory(option.value, from: cwd) }
            }
        }
        var environment = self.environment
        return wrapped(&reader, environment: environment, cwd: cwd, through: name, keep: keep)
    }
}

/// `NAME=VALUE`.
func isAssignment(_ word: CommandWord) -> Bool {
    guard let eq = word.bytes.firstIndex(of: UInt8(ascii: "=")), eq > 0 else { return false }
    return isName(word.bytes[..<eq])
}

/// The directory `cd DIR` (or `env -C DIR`) moves to; nil when only the running shell knows.
func resolveDirectory(_ word: CommandWord?, from cwd: [UInt8]?) -> [UInt8]? {
    guard let word, !word.isUnknown, word.globStart == nil, !word.bytes.isEmpty else { return nil }
    if word.bytes.first == UInt8(ascii: "/") { return normalisePath(word.bytes) }
    return cwd.map { normalisePath($0 + [UInt8(ascii: "/")] + word.bytes) }
}

/// Reads options the way getopt does when it stops at the first operand.
struct OptionReader {
    enum Option {
        case short(UInt8, CommandWord?)
        case long([UInt8], CommandWord?)

        /// Whether this is `-short` or `--long` (either may be nil).
        func `is`(_ short: Unicode.Scalar?, _ long: String?) -> Bool {
            switch self {
            case .short(let c, _): short.map { c == UInt8(ascii: $0) } ?? false
            case .long(let name, _): long.map { name == Array($0.utf8) } ?? false
            }
        }

        var value: CommandWord? {
            switch self {
            case .short(_, let v), .long(_, let v): v
            }
        }
    }

    private(set) var words: [CommandWord]
    var index: Int
    let options: WrapperOptions
    private(set) var sawDoubleDash = false

    init(_ words: [CommandWord], from index: Int, _ options: WrapperOptions) {
        self.words = words
        self.index = min(index, words.count)
        self.options = options
    }

    var operands: ArraySlice<CommandWord> { words[index...] }

    /// Arguments to read next, in place of the current one (`env -S`).
    mutating func insert(_ more: [CommandWord]) {
        words.insert(contentsOf: more, at: index)
    }

    /// The options in the next argument (several for a bundle such as `-iu NAME`), or nil at the
    /// first operand (`index` then points at it) and after `--` (which is skipped).
    mutating func next() -> [Option]? {
        guard !sawDoubleDash, let word = words[safe: index] else { return nil }
        let b = word.bytes
        if b == Array("--".utf8) {
            sawDoubleDash = true
            index += 1
            return nil
        }
        guard b.count >= 2, b[0] == UInt8(ascii: "-") else { return nil }
        index += 1
        if b[1] == UInt8(ascii: "-") {
            let eq = b.firstIndex(of: UInt8(ascii: "="))
            let name = Array(b[2..<(eq ?? b.count)])
            var value = eq.map { CommandWord(Array(b[($0 + 1)...]), isUnknown: word.isUnknown) }
            if value == nil && options.longWithValue.contains(name), let next = words[safe: index] {
                value = next
                index += 1
            }
            return [.long(name, value)]
        }
        var parsed: [Option] = []
        for k in 1..<b.count {
            let c = b[k]
            guard options.shortWithValue.contains(c) else {
                parsed.append(.short(c, nil))
                continue
            }
            if k + 1 < b.count {
                parsed.append(.short(c, CommandWord(Array(b[(k + 1)...]), isUnknown: word.isUnknown)))
            } else {
                parsed.append(.short(c, words[safe: index]))
                index = min(index + 1, words.count)
            }
            break
        }
        return parsed
    }
}
