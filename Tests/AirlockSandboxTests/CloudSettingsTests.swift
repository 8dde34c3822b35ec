import Foundation
import Testing

/// The cloud CLIs in the sandbox keep their settings, never their credentials.
@Suite struct CloudSettingsTests {
    @Test("AWS_REGION reaches the agent and AWS_SECRET_ACCESS_KEY does not", arguments: SandboxConfig.all)
    func regionPassesSecretDoesNot(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let outcome = try f.run(["/usr/bin/env"], env: ["AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": f.secret])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.lines.contains("AWS_REGION=eu-west-1"), "\(outcome)")
        #expect(!outcome.stdout.contains("AWS_SECRET_ACCESS_KEY"), "\(outcome)")
        #expect(!outcome.stdout.contains(f.secret), "\(outcome)")
    }
}
