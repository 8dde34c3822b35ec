import Foundation
import Testing

/// The approval page in a real browser: Debian's Chromium driven by Playwright with virtual
/// passkeys (Tests/Browser/approve_in_page.py) against `airlock serve` on a real PostgreSQL. The
/// script signs in, registers passkeys, approves, denies and replays; this test then checks what
/// it left in the chain with tools that owe Airlock nothing: `airlock queue verify` offline, and
/// stock `ssh-keygen -Y verify` on each signature the browser made.
@Suite(.serialized)
struct PageTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Browser/approve_in_page.py").path

    @Test("alice and bob register passkeys and approve in the page; replays and an unverified assertion count for nothing; alice denies; every browser signature verifies with ssh-keygen -Y verify and the exported chain with airlock queue verify",
          .enabled(if: ProjectVenv.exists && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "needs Chromium and Playwright: scripts/test installs them"))
    func approveInThePage() throws {
        let s = try ServiceTests.Service()
        let ids = try ["/srv/first.db", "/srv/second.db", "/srv/third.db"].map { try s.request($0) }
        // The page's origin: WebAuthn takes a host name, not 127.0.0.1.
        let base = s.url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        // The list in force, as the script changes it through the chain (passkeys added).
        let list = s.root + "/list-in-force"
        try FileManager.default.copyItem(atPath: s.approvers.allowedSigners, toPath: list)
        let run = try Subprocess([ProjectVenv.python, Self.script, "--base", base, "--alice", s.tokens["alice"]!, "--bob", s.tokens["bob"]!,
                                  "--approvers", s.approvers.allowedSigners, "--list", list, "--airlock", try Binaries.airlock(),
                                  "--database", s.database, "--root", s.root,
                                  "--first", ids[0], "--second", ids[1], "--third", ids[2]],
                                 environment: ["PATH": "/usr/bin:/bin", "HOME": s.root, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
                                               "PAGE_SCREENSHOTS": ProcessInfo.processInfo.environment["PAGE_SCREENSHOTS"] ?? ""],
                                 directory: s.root).wait(timeout: 240)
        try #require(run.status == 0, "\(run)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run)")
        #expect(report["unverified_flags"] as? Int == 1, "\(report)")

        #expect(try s.state(ids[0]) == "approved")
        #expect(try s.state(ids[1]) == "pending")
        #expect(try s.state(ids[2]) == "denied")
        let (exported, verified) = try s.exportAndVerify()
        #expect(verified.status == 0 && verified.stdout.contains("chain intact"), "\(verified)")
        // Each passkey came into the list through a change in the chain, approved by alice and bob.
        #expect(verified.stdout.components(separatedBy: "approvers list changed by request").count == 3, "\(verified)")
        #expect(verified.stdout.contains("approved by alice and bob: 5 key(s) in force from there"), "\(verified)")

        // Three decisions were written (two approvals, one denial), nothing for the refusals.
        let lines = exported.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let decisions = lines.filter { ["approve", "deny"].contains($0["event"] as? String ?? "") && ids.contains($0["id"] as? String ?? "") }
        #expect(decisions.count == 3, "\(exported.stdout)")
        let digests = Dictionary(uniqueKeysWithValues: lines.filter { $0["event"] as? String == "request" }.map { ($0["id"] as! String, $0["digest"] as! String) })
        for (n, line) in decisions.enumerated() {
            let id = line["id"] as! String, decision = line["event"] as! String
            let signature = try #require(line["signature"] as? String, "\(line)")
            #expect(signature.contains("BEGIN SSH SIGNATURE"))
            let file = s.root + "/decision-\(n).sig"
            try signature.write(toFile: file, atomically: true, encoding: .utf8)
            let message = "airlock-decision-v1\n\(digests[id]!)\n\(decision)\n\(line["sig_expires"] as! String)\n\(id)\n"
            let principal = n == 1 ? "bob" : "alice"
            let messageFile = s.root + "/decision-\(n).txt", otherFile = s.root + "/other-\(n).txt"
            try message.write(toFile: messageFile, atomically: true, encoding: .utf8)
            let checked = try Subprocess(["/usr/bin/ssh-keygen", "-Y", "verify", "-f", list, "-I", principal,
                                          "-n", "airlock", "-s", file], environment: ["PATH": "/usr/bin:/bin"], directory: s.root,
                                         stdin: messageFile).wait(timeout: 30)
            #expect(checked.status == 0 && checked.stdout.contains("Good \"airlock\" signature for \(principal) with ECDSA-SK key"), "\(checked)\n\(line)")
            // The oracle can fail: the same signature over the other decision is refused.
            let other = message.replacingOccurrences(of: "\n\(decision)\n", with: decision == "approve" ? "\ndeny\n" : "\napprove\n")
            try other.write(toFile: otherFile, atomically: true, encoding: .utf8)
            let refused = try Subprocess(["/usr/bin/ssh-keygen", "-Y", "verify", "-f", list, "-I", principal,
                                          "-n", "airlock", "-s", file], environment: ["PATH": "/usr/bin:/bin"], directory: s.root,
                                         stdin: otherFile).wait(timeout: 30)
            #expect(refused.status != 0, "\(refused)")
        }
    }
}
