import AirlockFuzz
import AirlockPolicy
import Foundation
import Testing

/// Replays every seed (Tests/Fuzz/Corpus/TARGET/) and every input a fuzzer once broke
/// (Tests/Fuzz/Regressions/TARGET/) through the same functions libFuzzer drives: none may crash,
/// and each must keep the target's invariants (see `FuzzTarget`).
@Suite struct FuzzCorpusTests {
    static let inputs: [FuzzInput] = FuzzTarget.allCases.flatMap { target in
        (FuzzPaths.files(in: FuzzPaths.corpus + "/" + target.rawValue)
            + FuzzPaths.files(in: FuzzPaths.regressions + "/" + target.rawValue))
            .map { FuzzInput(target: target, path: $0) }
    }

    @Test func everyTargetHasSeeds() {
        for target in FuzzTarget.allCases {
            #expect(Self.inputs.contains { $0.target == target && $0.path.contains("/Corpus/") },
                    "no seeds in Tests/Fuzz/Corpus/\(target.rawValue)")
        }
    }

    /// The queue seeds reach the states they were written for: the fuzzer starts from approvals
    /// that count, not only from lines the fold rejects.
    @Test(arguments: [
        ("approved-by-two", "resolved"), ("approved-unresolved", "approved"), ("rejected-approvals", "pending"),
        ("denied", "resolved"), ("exec-expired", "resolved"), ("torn", "approved"), ("one-request", "pending"),
    ])
    func queueSeedsReachTheirStates(_ seed: String, _ expected: String) throws {
        let data = try #require(FileManager.default.contents(atPath: FuzzPaths.corpus + "/queue/" + seed))
        for everySignature in [false, true] {
            let states = QueueFuzzProbe.states(Array(data), everySignature: everySignature)
            #expect(states.count == 1 && states.values.first == expected, "\(seed): \(states)")
        }
    }

    /// A resolve line written ahead of the request it names does not exempt the request's
    /// approvals from signature checks (a break of the queue target's invariant).
    @Test func aResolveBeforeItsRequestDoesNotSettleIt() throws {
        let data = try #require(FileManager.default.contents(atPath: FuzzPaths.regressions + "/queue/resolve-before-request"))
        #expect(QueueFuzzProbe.states(Array(data)).values.first == "pending")
    }

    /// Known and not fixed (TOMLKit's toml++ aborts on these; see `ProfileFuzz`): the profile
    /// target must keep recognising them, or the fuzzer would stop at them on every run.
    @Test(arguments: ["toml-header-dot", "toml-header-bracket", "toml-array-brace"])
    func knownTOMLKitAbortsAreRecognised(_ name: String) throws {
        let data = try #require(FileManager.default.contents(atPath: FuzzPaths.regressions + "/profile/" + name))
        #expect(TOMLAbortShapes.tableHeaderAbortLine(Array(data)) != nil || TOMLAbortShapes.arrayValueAbortLine(Array(data)) != nil)
    }

    @Test func shippedProfilesAreNotMistakenForTheKnownAbort() throws {
        for file in FuzzPaths.files(in: FuzzPaths.profiles) {
            let data = try #require(FileManager.default.contents(atPath: file))
            #expect(TOMLAbortShapes.tableHeaderAbortLine(Array(data)) == nil && TOMLAbortShapes.arrayValueAbortLine(Array(data)) == nil, "\(file)")
        }
    }

    @Test(arguments: inputs)
    func replays(_ input: FuzzInput) throws {
        let data = try #require(FileManager.default.contents(atPath: input.path))
        let broken = input.target.run(Array(data))
        #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
    }
}

struct FuzzInput: Sendable, CustomTestStringConvertible {
    let target: FuzzTarget
    let path: String
    var testDescription: String {
        "\(target.rawValue): " + path.split(separator: "/").suffix(2).joined(separator: "/")
    }
}
