import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one probe check reported.
enum Verdict: Equatable, CustomStringConvertible {
    case ok(String)
    case errno(Int32, String)
    /// The check's process was killed by this signal.
    case signal(Int32)
    /// A preparatory step failed; the operation itself was not tried.
    case setup(String)
    /// Any other line (check-specific).
    case other(String)
    /// The check printed nothing (its process, or the whole sandbox, ended first).
    case missing

    init(_ rest: String) {
        if rest == "ok" { self = .ok(""); return }
        if rest.hasPrefix("ok ") { self = .ok(String(rest.dropFirst(3))); return }
        let words = rest.split(separator: " ")
        if words.count >= 2, words[0] == "errno", let n = Int32(words[1]) {
            self = .errno(n, words.count > 2 ? String(words[2]).trimmingCharacters(in: CharacterSet(charactersIn: "()")) : "?")
            return
        }
        if words.count >= 2, words[0] == "signal", let n = Int32(words[1]) { self = .signal(n); return }
        if words.first == "setup" { self = .setup(rest); return }
        self = .other(rest)
    }

    var isOK: Bool { if case .ok = self { true } else { false } }

    /// What the seccomp filter's denial looks like: EPERM, or death by SIGSYS when the profile kills.
    var isSeccompDenial: Bool {
        switch self {
        case .errno(let n, _): n == EPERM
        case .signal(let s): s == SIGSYS
        default: false
        }
    }

    func isErrno(_ n: Int32) -> Bool { if case .errno(n, _) = self { true } else { false } }

    var description: String {
        switch self {
        case .ok(let detail): detail.isEmpty ? "ok" : "ok \(detail)"
        case .errno(let n, let name): "errno \(n) (\(name))"
        case .signal(let s): "signal \(s)"
        case .setup(let s): s
        case .other(let s): s
        case .missing: "missing"
        }
    }
}

/// The result of `airlock-probe each CHECK...`: one verdict per check, in order.
struct ProbeRun: CustomStringConvertible {
    let checks: [String]
    let outcome: Outcome
    let verdicts: [Verdict]
    private let lineCount: Int

    /// Parses `outcome`'s standard output from line `firstLine` on (earlier lines came from
    /// something else the test ran).
    init(checks: [String], outcome: Outcome, firstLine: Int = 0) {
        self.checks = checks
        self.outcome = outcome
        // On a terminal airlock's own messages ("airlock: ...") share the stream with the probe's.
        let lines = Array(outcome.lines.dropFirst(firstLine).filter { !$0.hasPrefix("airlock: ") })
        self.lineCount = lines.count
        verdicts = checks.indices.map { i in
            guard i < lines.count else { return .missing }
            let name = String(checks[i].split(separator: " ").first ?? "")
            let line = lines[i]
            // Not anchored: on a terminal, a character the probe managed to inject may come first.
            guard let r = line.range(of: name + ": ") else { return .other("unexpected line: \(line)") }
            return Verdict(String(line[r.upperBound...]))
        }
    }

    /// The verdict of the check spelled exactly `check`.
    subscript(_ check: String) -> Verdict {
        guard let i = checks.firstIndex(of: check) else { return .other("not run: \(check)") }
        return verdicts[i]
    }

    /// Whether every check ran and printed its line.
    var complete: Bool { lineCount == checks.count && !verdicts.contains(.missing) }

    var description: String { outcome.description }
}
