import AirlockSignOff
import Foundation

/// Writes the queue seeds (`airlock-fuzz make-seeds queue DIR`): real queue files written with
/// `QueueFile`, with decisions signed by `FuzzKeys`, at fixed times, so they are reproducible.
public enum FuzzSeeds {
    static let t0 = Date(timeIntervalSince1970: 1_795_690_800)  // 2026-11-26T11:00:00Z
    static let expires = Date(timeIntervalSince1970: 1_795_698_000)  // 13:00

    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func delete(_ path: String, rule: String = "dotenv files") -> HeldOperation {
        HeldOperation(kind: .delete, paths: [Array(path.utf8)], cwd: Array("/work/ws".utf8),
                      exe: "/usr/bin/rm (dev 2049 ino 1234)", sandbox: "fuzz0001", rule: rule, expires: expires)
    }

    static func exec(_ argv: [[UInt8]], rule: String) -> HeldOperation {
        HeldOperation(kind: .exec, argv: argv, cwd: Array("/work/ws".utf8),
                      exe: "/usr/bin/terraform (dev 2049 ino 99)", sandbox: "fuzz0001", rule: rule, expires: expires)
    }

    public static func makeQueueSeeds(into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func seed(_ name: String, _ build: (QueueFile) throws -> Void) throws {
            let path = directory + "/" + name
            try? FileManager.default.removeItem(atPath: path)
            try build(QueueFile(path: path))
        }
        let (alice, bob, carol, dave) = (FuzzKeys.alice, FuzzKeys.bob, FuzzKeys.carol, FuzzKeys.dave)

        // Approved by two keys, carried out.
        try seed("approved-by-two") { q in
            let r = try q.appendRequest(delete("/work/ws/.env"), pid: 4242, requester: "agent", quorum: 2, at: at(0))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice, reason: "ok")), at: at(10))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: bob)), at: at(20))
            try q.append(.resolve(Resolution(id: r.id, outcome: .allowed, detail: "delete /work/ws/.env")), at: at(21))
        }
        // Approved, still pending its resolve (what the supervisor folds before answering).
        try seed("approved-unresolved") { q in
            let r = try q.appendRequest(delete("/work/ws/prod.tfstate", rule: "terraform state"), pid: 7, requester: "agent", quorum: 2, at: at(0))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: bob)), at: at(5))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice)), at: at(6))
        }
        // One key twice, a key listed only for git, an unlisted key, a wrong namespace: pending.
        try seed("rejected-approvals") { q in
            let r = try q.appendRequest(delete("/work/ws/.git", rule: "workspace git"), pid: 8, requester: "agent", quorum: 2, at: at(0))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice)), at: at(1))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice)), at: at(2))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: carol)), at: at(3))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: dave)), at: at(4))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: bob, namespace: "git")), at: at(5))
            var unsigned = try FuzzKeys.sign(.approve, on: r, by: bob)
            unsigned.signature = nil
            try q.append(.approve(unsigned), at: at(6))
        }
        // Denied by one key with quorum 1 (solo), then resolved.
        try seed("denied") { q in
            let r = try q.appendRequest(delete("/work/ws/.env"), pid: 9, requester: "agent", quorum: 1, at: at(0))
            try q.append(.deny(FuzzKeys.sign(.deny, on: r, by: bob, reason: "no")), at: at(30))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice)), at: at(31))
            try q.append(.resolve(Resolution(id: r.id, outcome: .denied, errno: 1, detail: "delete /work/ws/.env")), at: at(32))
        }
        // A held command with argv that is not UTF-8 (stored as b64), quorum 3, expired.
        try seed("exec-expired") { q in
            let argv: [[UInt8]] = [Array("terraform".utf8), Array("destroy".utf8), [0x2D, 0xFF, 0xFE, 0x00, 0x41]]
            let r = try q.appendRequest(exec(argv, rule: "terraform destroy"), pid: 10, requester: "agent", quorum: 3, at: at(0))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice)), at: at(1))
            try q.append(.expire(id: r.id), at: at(7200))
            try q.append(.resolve(Resolution(id: r.id, outcome: .expired, errno: 1, detail: "terraform destroy")), at: at(7200))
        }
        // A rename, an audit, a cancel, events for unknown ids, a decision after expiry.
        try seed("mixed") { q in
            let rename = HeldOperation(kind: .rename, paths: [Array("/work/ws/a.env".utf8), Array("/work/ws/b".utf8)],
                                       cwd: Array("/work/ws".utf8), exe: "/usr/bin/mv", sandbox: "fuzz0001", rule: "dotenv files", expires: expires)
            let r = try q.appendRequest(rename, pid: 11, requester: "agent", quorum: 2, at: at(0))
            _ = try q.appendRequest(delete("/work/ws/x.env"), pid: 11, requester: "agent", quorum: 2, audit: true, at: at(1))
            try q.append(.cancel(id: "zzzzzz", reason: nil), at: at(2))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice, sigExpires: at(3))), at: at(4))
            try q.append(.cancel(id: r.id, reason: "the held process ended"), at: at(5))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: bob)), at: at(6))
            let w = try q.appendRequest(
                HeldOperation(kind: .truncate, paths: [Array("/work/ws/.env".utf8)], cwd: Array("/".utf8), exe: "/bin/sh",
                              sandbox: "fuzz0001", rule: "dotenv files", expires: at(60)),
                pid: 12, requester: "agent", quorum: 1, at: at(7))
            try q.append(.approve(FuzzKeys.sign(.approve, on: w, by: alice)), at: at(120))
        }
        // A torn line closed by the next writer, then an approval chaining over it.
        try seed("torn") { q in
            let r = try q.appendRequest(delete("/work/ws/.env"), pid: 13, requester: "agent", quorum: 2, at: at(0))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: q.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(#"{"event":"approve","id":"\#(r.id)","sig"#.utf8))
            try handle.close()
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: alice)), at: at(1))
            try q.append(.approve(FuzzKeys.sign(.approve, on: r, by: bob)), at: at(2))
        }
        // The empty file and one request alone.
        try seed("empty") { _ in _ = FileManager.default.createFile(atPath: directory + "/empty", contents: Data()) }
        try seed("one-request") { q in
            _ = try q.appendRequest(delete("/work/ws/.env"), pid: 1, requester: "agent", quorum: 2, at: at(0))
        }
    }
}
