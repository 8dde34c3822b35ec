import Testing

@testable import AirlockPolicy

/// The sandbox every exec test imagines: the agent works in /work/ws, its home is /home/agent,
/// and the default profile's protect rules apply.
let testWorkspace = "/work/ws"
let testHome = "/home/agent"

let defaultProfile: Profile = try! shippedLoader.load("default")
let defaultClassifier = ExecClassifier(profile: defaultProfile)

func testContext(cwd: String = testWorkspace) -> ExecContext {
    ExecContext(
        workspace: Array(testWorkspace.utf8), cwd: Array(cwd.utf8), home: Array(testHome.utf8),
        protectedRules: try! resolvedProtectRules(profile: defaultProfile, workspace: testWorkspace, home: testHome))
}

/// A command line and what the default profile must make of it.
struct ExecCase: CustomTestStringConvertible, Sendable {
    let argv: [[UInt8]]
    let environment: [[UInt8]]
    /// The rule that must decide it, or nil when nothing may match.
    let rule: String?
    /// For a case that must not match: the rule it is a near miss of.
    let nearMissOf: String?

    var testDescription: String {
        let line = displayCommand(argv)
        let env = environment.isEmpty ? "" : displayCommand(environment) + " "
        return env + line + (rule.map { " → \($0)" } ?? " → nothing")
    }

    func classify(_ classifier: ExecClassifier = defaultClassifier) -> ExecMatch? {
        classifier.classify(argv: argv, environment: environment, context: testContext())
    }
}

/// `line` split at spaces (or an argv given word by word) must be decided by `rule`.
func hits(_ line: String, _ rule: String, env: [String] = []) -> ExecCase {
    hits(line.split(separator: " ").map(String.init), rule, env: env)
}

func hits(_ argv: [String], _ rule: String, env: [String] = []) -> ExecCase {
    ExecCase(argv: argv.map { Array($0.utf8) }, environment: env.map { Array($0.utf8) }, rule: rule, nearMissOf: nil)
}

/// `line` must match no rule; it is a near miss of `rule`.
func misses(_ line: String, _ rule: String, env: [String] = []) -> ExecCase {
    misses(line.split(separator: " ").map(String.init), rule, env: env)
}

func misses(_ argv: [String], _ rule: String, env: [String] = []) -> ExecCase {
    ExecCase(argv: argv.map { Array($0.utf8) }, environment: env.map { Array($0.utf8) }, rule: nil, nearMissOf: rule)
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
