import AirlockSignOff
import Foundation
import Testing

@Suite struct AllowedSignersTests {
    let directory: TemporaryDirectory
    let alice: TestKey
    let bob: TestKey

    init() throws {
        directory = try TemporaryDirectory()
        alice = try TestKey(in: directory, name: "alice")
        bob = try TestKey(in: directory, name: "bob")
    }

    let now = Date(timeIntervalSince1970: 1_750_000_000)  // 2025-06-15

    @Test func commentsBlankLinesAndPlainEntriesAreRead() throws {
        let signers = try AllowedSigners(text: """
            # the approvers of project X

            alice@example.org,alice \(alice.publicKeyLine)
              \t
            bob@example.org \(bob.publicKeyLine)
            """)
        #expect(signers.entries.count == 2)
        #expect(signers.principals(for: alice.publicKey, namespace: "airlock", at: now) == ["alice@example.org", "alice"])
        #expect(signers.principals(for: bob.publicKey, namespace: "airlock", at: now) == ["bob@example.org"])
        #expect(signers.entries[1].line == 5)
    }

    @Test func aKeyCountsForAirlockOnlyWhenItsNamespacesIncludeAirlock() throws {
        let signers = try AllowedSigners(text: """
            \(alice.allowedSignersLine(principal: "alice", options: #"namespaces="git,airlock""#))
            bob namespaces="git,file" \(bob.publicKeyLine)
            """)
        #expect(signers.principals(for: alice.publicKey, namespace: "airlock", at: now) == ["alice"])
        #expect(signers.principals(for: bob.publicKey, namespace: "airlock", at: now).isEmpty)
        #expect(signers.principals(for: bob.publicKey, namespace: "git", at: now) == ["bob"])
    }

    @Test func namespacePatternsAndNegationsFollowOpenSSH() throws {
        let signers = try AllowedSigners(text: """
            alice namespaces="air*" \(alice.publicKeyLine)
            bob namespaces="*,!airlock" \(bob.publicKeyLine)
            """)
        #expect(signers.principals(for: alice.publicKey, namespace: "airlock", at: now) == ["alice"])
        #expect(signers.principals(for: bob.publicKey, namespace: "airlock", at: now).isEmpty)
        #expect(signers.principals(for: bob.publicKey, namespace: "git", at: now) == ["bob"])
    }

    @Test func validAfterAndValidBeforeBoundWhenAKeyCounts() throws {
        let signers = try AllowedSigners(text: """
            alice valid-after="20250101Z",valid-before="20251231235959Z" \(alice.publicKeyLine)
            """)
        #expect(signers.principals(for: alice.publicKey, namespace: "airlock", at: now) == ["alice"])
        #expect(signers.principals(for: alice.publicKey, namespace: "airlock", at: Date(timeIntervalSince1970: 1_700_000_000)).isEmpty)
        #expect(signers.principals(for: alice.publicKey, namespace: "airlock", at: Date(timeIntervalSince1970: 1_800_000_000)).isEmpty)
    }

    @Test func aKeyThatIsNotListedHasNoPrincipals() throws {
        let signers = try AllowedSigners(text: "alice \(alice.publicKeyLine)\n")
        #expect(signers.principals(for: bob.publicKey, namespace: "airlock", at: now).isEmpty)
    }

    @Test func certAuthorityAndUnsupportedKeyLinesAreSkippedWithANote() throws {
        let signers = try AllowedSigners(text: """
            *@example.org cert-authority \(bob.publicKeyLine)
            alice \(alice.publicKeyLine)
            carol ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDbdRV4kszzHxKrUQ3rGCXJ0ua carol
            """, file: "team/allowed_signers")
        #expect(signers.entries.map(\.principals) == [["alice"]])
        #expect(signers.principals(for: bob.publicKey, namespace: "airlock", at: now).isEmpty)
        #expect(signers.notes.count == 2)
        #expect(signers.notes[0].hasPrefix("team/allowed_signers:1: cert-authority"))
        #expect(signers.notes[1].hasPrefix("team/allowed_signers:3: ssh-rsa"))
    }

    @Test(arguments: [
        ("alice\n", 1),
        ("# ok\nalice ssh-ed25519 not-base64!!\n", 2),
        ("\n\nbob unknown-option=\"x\" ssh-ed25519 AAAA\n", 3),
        ("alice namespaces=airlock ssh-ed25519 AAAA\n", 1),
        ("alice valid-after=\"2025\" KEY\n", 1),
        ("\"alice ssh-ed25519 AAAA\n", 1),
    ])
    func aMalformedLineIsAnErrorNamingTheFileAndLine(text: String, line: Int) throws {
        let error = #expect(throws: SignOffError.self) {
            try AllowedSigners(text: text.replacingOccurrences(of: "KEY", with: alice.publicKeyLine), file: "approvers")
        }
        #expect(error?.code == .malformedApprovers)
        #expect(error?.message.hasPrefix("approvers:\(line): ") == true, "\(error?.message ?? "")")
    }

    @Test func aFileIsReadFromDiskAndItsPathIsNamedInErrors() throws {
        let path = directory.file("allowed_signers")
        try "alice \(alice.publicKeyLine)\nbroken line here\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: SignOffError.self) { try AllowedSigners(contentsOf: path) }
        #expect(error?.message.hasPrefix("\(path):2: ") == true)
        #expect(throws: SignOffError.self) { try AllowedSigners(contentsOf: directory.file("missing")) }
    }
}
