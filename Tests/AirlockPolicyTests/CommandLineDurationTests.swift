import Testing

import AirlockPolicy

/// `--stop-timeout` reads durations as a profile does, and bare seconds too.
@Suite struct CommandLineDurationTests {
    @Test(arguments: [("10", 10), ("0", 0), ("10s", 10), ("1m", 60), ("1m30s", 90), ("0s", 0), ("2h", 7_200)])
    func commandLineDurationsReadAsSeconds(text: String, seconds: Int) {
        #expect(Durations.commandLineSeconds(text) == seconds)
    }

    @Test(arguments: ["", "abc", "-1", "+5", "1.5", "10 s", "1x", "１０", "366d", "99999999999999999999"])
    func malformedCommandLineDurationsAreRejected(text: String) {
        #expect(Durations.commandLineSeconds(text) == nil)
    }
}
