import Foundation
import Testing

/// S3 writes are held only when they would replace an object: the proxy asks the store (a HEAD
/// signed with the operator's credentials) before it decides.
@Suite struct ObjectOverwriteTests {
    @Test("a PUT of a new key goes through; a PUT or copy onto an existing key is held and, not approved, refused with S3's AccessDenied",
          .enabled(if: ProjectVenv.exists, ProjectVenv.missing), arguments: [SandboxConfig.all[0]])
    func overwriteIsHeld(config: SandboxConfig) throws {
        let f = try Fixture(config)
        try ProjectVenv.check(for: config)
        let ca = try TestCA.make(in: f.root + "/upstream-ca")
        let moto = try MotoServer(certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"), scratch: f.root)
        let profile = try inspectingProfile(f, upstreamCA: ca)
        try f.write(profile, try String(contentsOfFile: profile, encoding: .utf8) + "\n[signoff]\nwait = \"2s\"\n")
        try f.write(f.workspace + "/s3.py", """
            import boto3, botocore
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="airlock-objects")
            s3.put_object(Bucket="airlock-objects", Key="new.txt", Body=b"first")
            print("new: written")
            for what, call in [("put", lambda: s3.put_object(Bucket="airlock-objects", Key="new.txt", Body=b"second")),
                               ("copy", lambda: s3.copy_object(Bucket="airlock-objects", Key="new.txt", CopySource="airlock-objects/new.txt"))]:
                try:
                    call()
                    print(what + ": written")
                except botocore.exceptions.ClientError as e:
                    print(what + ": " + e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"])
            print("body: " + s3.get_object(Bucket="airlock-objects", Key="new.txt")["Body"].read().decode())
            # A file-like body is sent with Expect: 100-continue: the proxy, which reads the body
            # before deciding, answers the 100 itself (botocore would otherwise wait a second).
            import io, logging
            class Seen(logging.Handler):
                lines = []
                def emit(self, record): Seen.lines.append(record.getMessage())
            logger = logging.getLogger("botocore.awsrequest")
            logger.setLevel(logging.DEBUG)
            logger.addHandler(Seen())
            s3.put_object(Bucket="airlock-objects", Key="streamed.bin", Body=io.BytesIO(b"x" * 65536))
            print("continue: " + ("seen" if any("100 Continue response seen" in l for l in Seen.lines) else "not seen: %r" % Seen.lines))
            """)
        let script = """
            unset NO_PROXY no_proxy
            export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=https://localhost:\(moto.port)
            \(ProjectVenv.python) s3.py
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", profile], timeout: 240)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.lines.contains("new: written"), "\(outcome)")
        #expect(outcome.lines.contains { $0.hasPrefix("put: AccessDenied: airlock: NOT APPROVED YET") && $0.contains("PutObject") }, "\(outcome)")
        #expect(outcome.lines.contains { $0.hasPrefix("copy: AccessDenied: airlock: NOT APPROVED YET") && $0.contains("CopyObject") }, "\(outcome)")
        // Nothing was replaced.
        #expect(outcome.lines.contains("body: first"), "\(outcome)")
        #expect(outcome.lines.contains("continue: seen"), "\(outcome)")
        let log = try LoggedTraffic(f)
        let held = log.entries.filter { $0["decision"] as? String == "hold" }.compactMap { $0["api"] as? String }
        #expect(held.count == 2 && held.allSatisfy { $0.contains("key/new.txt") }, "\(log)")
    }
}
