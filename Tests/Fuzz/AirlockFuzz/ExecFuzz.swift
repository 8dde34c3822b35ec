import AirlockPolicy
import Foundation

/// Command lines against the default profile's `[[exec]]` catalogue.
///
/// Input: fields separated by NUL; the fields before the first empty field are argv, up to eight
/// after it are `NAME=VALUE` environment entries (`terraform\0destroy\0\0TF_WORKSPACE=prod`).
enum ExecFuzz {
    static let workspace = "/work/ws"
    static let home = "/home/agent"

    static let profile: Profile = {
        do {
            return try ProfileLoader(searchPaths: [FuzzPaths.profiles]).load("default")
        } catch {
            fatalError("airlock-fuzz: cannot load the default profile from \(FuzzPaths.profiles): \(error)")
        }
    }()
    static let classifier = ExecClassifier(profile: profile)
    static let context: ExecContext = {
        let rules = try! resolvedProtectRules(profile: profile, workspace: workspace, home: home)
        return ExecContext(workspace: Array(workspace.utf8), cwd: Array((workspace + "/src").utf8),
                           home: Array(home.utf8), protectedRules: rules)
    }()

    /// Splits the input into argv and environment.
    static func split(_ data: [UInt8]) -> (argv: [[UInt8]], environment: [[UInt8]]) {
        let fields = data.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
        guard let gap = fields.firstIndex(where: \.isEmpty) else { return (fields, []) }
        return (Array(fields[..<gap]), Array(fields[(gap + 1)...].filter { !$0.isEmpty }.prefix(8)))
    }

    static func run(_ data: [UInt8]) -> [String] {
        let (argv, environment) = split(data)
        let decision = classifier.classify(argv: argv, environment: environment, context: context)
        var broken: [String] = []
        if data.count < 4096 {
            _ = classifier.explain(argv: argv, environment: environment, context: context)
        }
        if let executable = argv.first {
            // The kernel's path for argv[0]: classification with it must be at least as strict.
            let withPath = classifier.classify(argv: argv, environment: environment,
                                               executable: Array("/usr/bin/".utf8) + (executable.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? []),
                                               context: context)
            if let decision, decision.action.restrains, !(withPath?.action.restrains ?? false) {
                broken.append("naming the executable lets \(show(argv)) through; without it: \(decision.rule)")
            }
        }

        // Looking through a wrapper must never let a held or denied command through: `nohup X`,
        // `env X`, `timeout 5 X` and `sh -c 'X'` restrain X at least as much as X alone.
        guard let decision, decision.action.restrains, let first = argv.first, !first.isEmpty,
              first.first != UInt8(ascii: "-"), !first.contains(UInt8(ascii: "=")), argv.count < 512 else { return broken }
        let wrapped: [(String, [[UInt8]])] = [
            ("nohup", [Array("nohup".utf8)] + argv),
            ("env", [Array("env".utf8)] + argv),
            ("timeout", [Array("timeout".utf8), Array("5".utf8)] + argv),
            ("sh -c", [Array("sh".utf8), Array("-c".utf8), shellQuoted(argv)]),
        ]
        for (name, line) in wrapped {
            let outer = classifier.classify(argv: line, environment: environment, context: context)
            if !(outer?.action.restrains ?? false) {
                broken.append("\(name) lets through what rule \(decision.rule.debugDescription) \(decision.action.rawValue)s: \(show(argv)) → \(outer.map { "\($0.rule) (\($0.action.rawValue))" } ?? "no rule")")
            }
        }
        return broken
    }

    /// The words as one shell command line, each in single quotes.
    static func shellQuoted(_ argv: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for (index, word) in argv.enumerated() {
            if index > 0 { out.append(UInt8(ascii: " ")) }
            out.append(UInt8(ascii: "'"))
            for byte in word {
                if byte == UInt8(ascii: "'") { out += Array(#"'\''"#.utf8) } else { out.append(byte) }
            }
            out.append(UInt8(ascii: "'"))
        }
        return out
    }

    static func show(_ argv: [[UInt8]]) -> String {
        argv.map { String(decoding: $0, as: UTF8.self).debugDescription }.joined(separator: " ")
    }
}

extension ProtectAction {
    /// Whether the command does not simply run: held for sign-off or denied.
    var restrains: Bool { self == .hold || self == .deny }
}
