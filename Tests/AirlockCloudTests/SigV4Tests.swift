import AirlockPolicy
@testable import AirlockCloud
import Foundation
import Testing

@Suite struct SigV4Tests {
    static let suiteCredentials = (accessKeyID: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z
    static let zeros = String(repeating: "0", count: 64)

    // MARK: Oracle 1: the AWS SigV4 test suite

    @Test(arguments: suiteVectors)
    func signsEachRequestOfTheAWSTestSuiteAsTheSuiteSays(_ vector: SuiteVector) throws {
        let expected = try SigV4Signature(authorization: vector.authorization)
        var request = vector.parsedRequest
        // The agent signed what the suite's signature signs, with a placeholder key.
        request.headers.append((name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK000000000/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(expected.signedHeaders.joined(separator: ";")), Signature=\(Self.zeros)"))
        // The two session-token vectors name their token in the canonical request.
        let token = vector.canonicalRequest.split(separator: "\n").first { $0.hasPrefix("x-amz-security-token:") }
            .map { String($0.dropFirst("x-amz-security-token:".count)) }
        let credentials = AWSCredentials(accessKeyID: Self.suiteCredentials.accessKeyID, secretAccessKey: Self.suiteCredentials.secret,
                                         sessionToken: token)

        let signed = SigV4.sign(request, credentials: credentials, region: "us-east-1", service: "service", date: Self.suiteDate)
        #expect(SigV4.canonicalRequest(signed, signedHeaders: expected.signedHeaders, service: "service", payloadHash: nil)
            == vector.canonicalRequest)
        #expect(signed.values("authorization") == [vector.authorization])
        #expect(signed.values("x-amz-date") == ["20150830T123600Z"])
    }

    // MARK: Oracle 2: botocore

    @Test(.enabled(if: BotocoreOracle.available, BotocoreOracle.missing))
    func signsTheRequestsTheProxyReSignsByteForByteAsBotocore() throws {
        let answers = try BotocoreOracle.sign(oracleCases)
        try #require(answers.count == oracleCases.count)
        for (example, answer) in zip(oracleCases, answers) {
            let signed = SigV4.sign(example.agentRequest, credentials: example.credentials, region: example.region,
                                    service: example.service, date: BotocoreOracle.date)
            let signature = try #require(try SigV4Signature.of(signed))
            let canonical = SigV4.canonicalRequest(signed, signedHeaders: signature.signedHeaders, service: example.service, payloadHash: nil)
            #expect(canonical == answer.canonical_request, "\(example.name)")
            #expect(signed.values("authorization") == [answer.authorization], "\(example.name)")
            #expect(signed.values("x-amz-security-token") == (example.token.map { [$0] } ?? []), "\(example.name)")
            #expect(signed.values("x-amz-date") == [BotocoreOracle.time], "\(example.name)")
        }
    }

    // MARK: Reading an incoming signature

    static let hex = String(repeating: "0a", count: 32)
    static let scope = SigV4Scope(accessKeyID: "AKIAAIRLOCK123456789", date: "20261203", region: "us-east-1", service: "s3")

    @Test(arguments: [
        "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=\(hex)",
        "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=\(hex)",
        "  AWS4-HMAC-SHA256   Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request ,\tSignedHeaders=host;x-amz-date ,  Signature=\(hex) ",
        "AWS4-HMAC-SHA256 Signature=\(hex), SignedHeaders=host;x-amz-date, Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request",
    ])
    func readsAnAuthorizationHeaderInEverySpellingAWSAccepts(_ header: String) throws {
        let request = APIRequest(method: "GET", host: "b.s3.amazonaws.com", target: "/k", headers: [("Host", "b.s3.amazonaws.com"), ("Authorization", header)])
        #expect(try SigV4Signature.of(request)
            == SigV4Signature(scope: Self.scope, signedHeaders: ["host", "x-amz-date"], signature: Self.hex, presigned: false))
    }

    @Test(arguments: [
        ("", "Authorization scheme empty is not AWS4-HMAC-SHA256"),
        ("AWS AKIAAIRLOCK123456789:c2lnbmF0dXJl", "Authorization scheme \"AWS\" is not AWS4-HMAC-SHA256"),
        ("AWS4-ECDSA-P256-SHA256 Credential=AKIAAIRLOCK123456789/20261203/s3/aws4_request, SignedHeaders=host, Signature=\(hex)",
         "Authorization scheme \"AWS4-ECDSA-P256-SHA256\" is not AWS4-HMAC-SHA256"),
        ("AWS4-HMAC-SHA256Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(hex)",
         "Authorization scheme \"AWS4-HMAC-SHA256Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request,\" is not AWS4-HMAC-SHA256"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host",
         "Authorization lacks Signature"),
        ("AWS4-HMAC-SHA256 SignedHeaders=host", "Authorization lacks Credential and Signature"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(hex),",
         "Authorization component \"\" is not NAME=VALUE"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(hex), Extra=1",
         "Authorization has an unknown component \"Extra\""),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(hex)",
         "Authorization names Credential twice"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/aws4_request, SignedHeaders=host, Signature=\(hex)",
         "SigV4 credential \"AKIAAIRLOCK123456789/20261203/us-east-1/aws4_request\" is not KEY/DATE/REGION/SERVICE/aws4_request"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/2026-12-03/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(hex)",
         "SigV4 credential \"AKIAAIRLOCK123456789/2026-12-03/us-east-1/s3/aws4_request\" has no yyyymmdd date"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203//s3/aws4_request, SignedHeaders=host, Signature=\(hex)",
         "SigV4 credential \"AKIAAIRLOCK123456789/20261203//s3/aws4_request\" has an empty or blank key, region or service"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=Host;X-Amz-Date, Signature=\(hex)",
         "Authorization SignedHeaders \"Host;X-Amz-Date\" is not lowercase header names separated by ;"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;;x-amz-date, Signature=\(hex)",
         "Authorization SignedHeaders \"host;;x-amz-date\" is not lowercase header names separated by ;"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
         "Authorization Signature \"abc\" is not 64 lowercase hex digits"),
        ("AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\u{1B}[2K\rok",
         "Authorization Signature \"\\u{1B}[2K\\rok\" is not 64 lowercase hex digits"),
    ])
    func refusesAMalformedAuthorizationHeaderSayingWhy(_ header: String, _ message: String) {
        #expect(throws: SigV4Error(message)) { try SigV4Signature(authorization: header) }
    }

    @Test func readsAPresignedQueryWithItsPercentEncodedCredential() throws {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAAIRLOCK123456789%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20261203T101112Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=\(Self.hex)&versionId=3"
        let request = APIRequest(method: "GET", host: "b.s3.amazonaws.com", target: "/key.txt?" + query, headers: [("Host", "b.s3.amazonaws.com")])
        #expect(try SigV4Signature.of(request)
            == SigV4Signature(scope: Self.scope, signedHeaders: ["host", "x-amz-meta-a"], signature: Self.hex, presigned: true))

        let sigV4a = request.target.replacingOccurrences(of: "AWS4-HMAC-SHA256", with: "AWS4-ECDSA-P256-SHA256")
        #expect(throws: SigV4Error("presigned query's X-Amz-Algorithm \"AWS4-ECDSA-P256-SHA256\" is not AWS4-HMAC-SHA256")) {
            try SigV4Signature.of(APIRequest(method: "GET", host: "b", target: sigV4a, headers: []))
        }
        let unsigned = "/key.txt?X-Amz-Credential=AKIAAIRLOCK123456789%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
        #expect(throws: SigV4Error("presigned query's X-Amz-Algorithm \"\" is not AWS4-HMAC-SHA256")) {
            try SigV4Signature.of(APIRequest(method: "GET", host: "b", target: unsigned, headers: []))
        }
    }

    @Test func refusesARequestSignedTwiceAndAcceptsOneNotSignedAtAll() throws {
        let header = "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(Self.hex)"
        let presigned = "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAAIRLOCK123456789%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-SignedHeaders=host&X-Amz-Signature=\(Self.hex)"
        #expect(throws: SigV4Error("the request is signed both in its Authorization header and in its query")) {
            try SigV4Signature.of(APIRequest(method: "GET", host: "b", target: presigned, headers: [("Authorization", header)]))
        }
        #expect(throws: SigV4Error("the request has 2 Authorization headers")) {
            try SigV4Signature.of(APIRequest(method: "GET", host: "b", target: "/k", headers: [("Authorization", header), ("authorization", header)]))
        }
        #expect(try SigV4Signature.of(APIRequest(method: "GET", host: "b", target: "/k?X-Amz-Date=1&x-amz-signature=2", headers: [("Host", "b")])) == nil)
    }

    // MARK: What the signer changes

    @Test func replacesTheAgentsSignatureDateAndTokenWhateverTheirCase() throws {
        let agent = APIRequest(method: "GET", host: "b.s3.amazonaws.com", target: "/k", headers: [
            ("host", "b.s3.amazonaws.com"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("X-AMZ-DATE", "20261203T000000Z"),
            ("x-amz-security-token", "placeholder-token"),
            ("AUTHORIZATION", "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=\(Self.hex)"),
        ])
        let date = Date(timeIntervalSince1970: 1_796_292_672.9)  // 20261203T101112Z and a fraction
        let withToken = SigV4.sign(agent, credentials: AWSCredentials(accessKeyID: "AKIAREAL", secretAccessKey: "s", sessionToken: "real-token"),
                                   region: "us-east-1", service: "s3", date: date)
        #expect(withToken.values("x-amz-date") == ["20261203T101112Z"])
        #expect(withToken.values("x-amz-security-token") == ["real-token"])
        let signature = try #require(try SigV4Signature.of(withToken))
        #expect(signature.scope == SigV4Scope(accessKeyID: "AKIAREAL", date: "20261203", region: "us-east-1", service: "s3"))
        #expect(signature.signedHeaders == ["host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"])

        let withoutToken = SigV4.sign(agent, credentials: AWSCredentials(accessKeyID: "AKIAREAL", secretAccessKey: "s"),
                                      region: "us-east-1", service: "s3", date: date)
        #expect(withoutToken.values("x-amz-security-token").isEmpty)
        #expect(try SigV4Signature.of(withoutToken)?.signedHeaders == ["host", "x-amz-content-sha256", "x-amz-date"])
        #expect(withoutToken.headers.map(\.name) == ["host", "x-amz-content-sha256", "X-Amz-Date", "Authorization"])
    }

    @Test func signsWhatTheAgentSignedAndWhatSigV4NeedsButNothingElse() throws {
        let agent = APIRequest(method: "POST", host: "dynamodb.us-east-1.amazonaws.com", target: "/", headers: [
            ("Host", "dynamodb.us-east-1.amazonaws.com"), ("X-Amz-Target", "DynamoDB_20120810.DeleteTable"),
            ("Content-Type", "application/x-amz-json-1.0"), ("User-Agent", "agent"), ("X-Unsigned", "1"), ("Content-Length", "2"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/us-east-1/dynamodb/aws4_request, "
                + "SignedHeaders=host;x-amz-date;x-amz-target, Signature=\(Self.hex)"),
        ], body: Array("{}".utf8))
        let signed = SigV4.sign(agent, credentials: AWSCredentials(accessKeyID: "AKIAREAL", secretAccessKey: "s"),
                                region: "us-east-1", service: "dynamodb", date: Date(timeIntervalSince1970: 0))
        #expect(try SigV4Signature.of(signed)?.signedHeaders == ["content-type", "host", "x-amz-date", "x-amz-target"])
        #expect(signed.values("x-amz-date") == ["19700101T000000Z"])
    }

    @Test func takesThePayloadHashFromTheHeaderThenTheCallerThenTheBody() {
        let body = Array("{}".utf8)
        let bodyHash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        func payload(_ headers: [(name: String, value: String)], _ given: String?) -> Substring? {
            let request = APIRequest(method: "PUT", host: "h", target: "/k", headers: headers, body: body)
            return SigV4.canonicalRequest(request, signedHeaders: ["host"], service: "s3", payloadHash: given).split(separator: "\n").last
        }
        #expect(payload([("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")], "ab") == "UNSIGNED-PAYLOAD")
        #expect(payload([], "ab") == "ab")
        #expect(payload([], nil)?.description == bodyHash)
    }

    @Test func signsAnS3PathAsSentAndEveryOtherPathNormalisedAndEncodedAgain() {
        let request = APIRequest(method: "GET", host: "h", target: "/a%2Fb/./c//d/../e%20f~/", headers: [("Host", "h")])
        func path(_ service: String) -> Substring {
            SigV4.canonicalRequest(request, signedHeaders: ["host"], service: service, payloadHash: "x").split(separator: "\n")[1]
        }
        for service in ["s3", "s3-object-lambda", "s3-outposts", "s3express"] {
            #expect(path(service) == "/a%2Fb/./c//d/../e%20f~/", "\(service)")
        }
        #expect(path("lambda") == "/a%252Fb/c/e%2520f~/")
        #expect(SigV4.removingDotSegments("") == "/")
        #expect(SigV4.removingDotSegments("/..") == "/")
        #expect(SigV4.removingDotSegments("/a/b/../../..//") == "/")
    }

    @Test func encodesTheQueryCanonicallyWhateverEncodingTheAgentChose() {
        let request = APIRequest(method: "GET", host: "h", target: "/?b=2&a=%7e&a=%41&flag&&c=1+1&d=%zz&%E2%82%AC=x%2f", headers: [])
        let query = SigV4.canonicalRequest(request, signedHeaders: [], service: "s3", payloadHash: "x").split(separator: "\n", omittingEmptySubsequences: false)[2]
        #expect(query == "%E2%82%AC=x%2F&a=A&a=~&b=2&c=1%2B1&d=%25zz&flag=")
    }

    @Test func credentialsNeverPrintTheirSecretOrToken() {
        let credentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                         sessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN")
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [credentials.description, credentials.debugDescription, "\(credentials)", String(reflecting: credentials), dumped,
                     "\([credentials])"] {
            #expect(text.contains("AKIAIOSFODNN7EXAMPLE"), "\(text)")
            #expect(!text.contains("EXAMPLEKEY") && !text.contains("EXAMPLETOKEN"), "\(text)")
        }
    }
}

/// botocore's signature for the same requests: scripts/sigv4-oracle run with the project venv's
/// Python ($AIRLOCK_VENV, else /var/tmp/airlock-venv-UID, where scripts/test installs boto3).
enum BotocoreOracle {
    static let venv = ProcessInfo.processInfo.environment["AIRLOCK_VENV"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "/var/tmp/airlock-venv-\(geteuid())"
    static var python: String { venv + "/bin/python" }
    static var available: Bool { FileManager.default.isExecutableFile(atPath: python) }
    static let missing: Comment = "no virtualenv at \(venv) to run botocore in: scripts/test makes it (ensure_python_tools in scripts/lib/deps.sh)"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/sigv4-oracle").path
    static let time = "20261203T101112Z"
    static let date = Date(timeIntervalSince1970: 1_796_292_672)

    struct Request: Encodable {
        struct Credentials: Encodable { var access_key, secret_key: String; var token: String? }
        var method, url: String
        var headers: [[String]]
        var body: String
        var service, region, time: String
        var credentials: Credentials
    }

    struct Answer: Decodable {
        var authorization: String
        var canonical_request: String
    }

    static func sign(_ cases: [OracleCase]) throws -> [Answer] {
        let requests = cases.map { example in
            Request(method: example.method, url: "https://\(example.hostHeader)\(example.target)", headers: example.signed.map { [$0.0, $0.1] },
                    body: Data(example.body.utf8).base64EncodedString(), service: example.service, region: example.region, time: time,
                    credentials: .init(access_key: example.credentials.accessKeyID, secret_key: example.credentials.secretAccessKey,
                                       token: example.credentials.sessionToken))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(try JSONEncoder().encode(requests))
        try input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OracleFailure(description: "\(script) failed: \(String(decoding: complaint, as: UTF8.self))")
        }
        return try JSONDecoder().decode([Answer].self, from: answer)
    }

    struct OracleFailure: Error, CustomStringConvertible { var description: String }
}

/// A request shape the proxy re-signs, as an agent's SDK sent it.
struct OracleCase: Sendable {
    var name: String
    var service: String
    var region = "us-east-1"
    var method: String
    var target: String
    /// What the agent's SDK signed, Host first (all the oracle sees: botocore signs every header it is given).
    var signed: [(String, String)]
    var body = ""
    /// The operator's session token, if the real credentials have one.
    var token: String? = nil
    /// Whether the agent sent (and signed) a token of its own.
    var agentToken = false

    var hostHeader: String { signed[0].1 }

    var credentials: AWSCredentials {
        AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", sessionToken: token)
    }

    /// The request as the proxy reads it: what the agent signed, its placeholder signature, date and
    /// token, and the headers its HTTP layer added unsigned.
    var agentRequest: APIRequest {
        var headers = signed.map { (name: $0.0, value: $0.1) }
        var names = signed.map { $0.0.lowercased() } + ["x-amz-date"]
        if agentToken {
            headers.append((name: "X-Amz-Security-Token", value: "placeholder-token"))
            names.append("x-amz-security-token")
        }
        headers += [(name: "X-Amz-Date", value: "20261203T100000Z"),
                    (name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=AKIAAIRLOCK123456789/20261203/\(region)/\(service)/aws4_request, "
                        + "SignedHeaders=\(Set(names).sorted().joined(separator: ";")), Signature=\(String(repeating: "0", count: 64))"),
                    (name: "User-Agent", value: "aws-cli/1.46.3 md/Botocore#1.44.8"), (name: "Accept-Encoding", value: "identity"),
                    (name: "Content-Length", value: String(body.utf8.count))]
        let host = hostHeader.split(separator: ":")[0]
        return APIRequest(method: method, host: String(host), target: target, headers: headers, body: Array(body.utf8))
    }
}

let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

let oracleCases: [OracleCase] = [
    OracleCase(name: "CloudFormation DeleteStack, a query-protocol form POST", service: "cloudformation", method: "POST", target: "/",
               signed: [("Host", "cloudformation.us-east-1.amazonaws.com"),
                        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
               body: "Action=DeleteStack&StackName=prod-env&Version=2010-05-15"),
    OracleCase(name: "DynamoDB DeleteTable, JSON with X-Amz-Target", service: "dynamodb", region: "eu-west-1", method: "POST", target: "/",
               signed: [("Host", "dynamodb.eu-west-1.amazonaws.com"), ("X-Amz-Target", "DynamoDB_20120810.DeleteTable"),
                        ("Content-Type", "application/x-amz-json-1.0")],
               body: #"{"TableName": "orders"}"#),
    OracleCase(name: "DynamoDB on a local endpoint, the port in Host", service: "dynamodb", method: "POST", target: "/",
               signed: [("Host", "localhost:4566"), ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
                        ("Content-Type", "application/x-amz-json-1.0")],
               body: "{}"),
    OracleCase(name: "S3 GET of a key with spaces, +, %2F, unicode and dot segments", service: "s3", method: "GET",
               target: "/dir/a%20b+c%2Fd%E2%82%AC/../x/./y%20z.txt?versionId=3%2F4&response-content-type=text%2Fplain",
               signed: [("Host", "my-bucket.s3.us-east-1.amazonaws.com"), ("X-Amz-Content-SHA256", emptySHA256)]),
    OracleCase(name: "S3 PUT with the body's SHA-256 and user metadata", service: "s3", method: "PUT", target: "/logs/2026/12/03/app%20one.log",
               signed: [("Host", "my-bucket.s3.us-east-1.amazonaws.com"), ("Content-Type", "text/plain"),
                        ("X-Amz-Content-SHA256", "d42aa8ae328de00aaf6748a0ecc080625b5e8f458721367af5cf8b341c65955a"),
                        ("X-Amz-Meta-Note", "  two   spaces\tand a tab  "), ("X-Amz-Meta-List", "a"), ("x-amz-meta-list", "b")],
               body: "2026-12-03 10:11:12 started\n"),
    OracleCase(name: "S3 PUT with UNSIGNED-PAYLOAD", service: "s3", method: "PUT", target: "/big.bin",
               signed: [("Host", "my-bucket.s3.us-east-1.amazonaws.com"), ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
                        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")],
               body: "anything at all"),
    OracleCase(name: "S3 PUT with a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER)", service: "s3", method: "PUT", target: "/chunked.txt",
               signed: [("Host", "my-bucket.s3.us-east-1.amazonaws.com"), ("Content-Encoding", "aws-chunked"),
                        ("X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("X-Amz-Decoded-Content-Length", "5"),
                        ("X-Amz-Trailer", "x-amz-checksum-crc32")],
               body: "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"),
    OracleCase(name: "S3 DeleteObjects, a key-only query (?delete)", service: "s3", method: "POST", target: "/?delete",
               signed: [("Host", "my-bucket.s3.us-east-1.amazonaws.com"), ("Content-MD5", "mH5Y9xbbdnsqxa2yvIzMcQ=="),
                        ("X-Amz-Content-SHA256", "86cd82f3feb1caadba58e19544d2d58f8b82ab743f8b8ab1992631243f6d21db")],
               body: "<Delete><Object><Key>a b.txt</Key></Object></Delete>"),
    OracleCase(name: "S3 ListObjectsV2 with an agent's token and none in the real credentials", service: "s3", method: "GET",
               target: "/?list-type=2&prefix=a%2Fb%20c&delimiter=%2F&encoding-type=url",
               signed: [("Host", "my-bucket.s3.us-east-1.amazonaws.com"), ("X-Amz-Content-SHA256", emptySHA256)],
               agentToken: true),
    OracleCase(name: "S3 on Outposts, its path signed as sent", service: "s3-outposts", method: "GET", target: "/a/./b/../c%2F",
               signed: [("Host", "op-01234567890123456.s3-outposts.us-east-1.amazonaws.com"), ("X-Amz-Content-SHA256", emptySHA256)]),
    OracleCase(name: "Lambda DeleteFunction, an ARN label percent-encoded in the path", service: "lambda", method: "DELETE",
               target: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn?Qualifier=prod",
               signed: [("Host", "lambda.us-east-1.amazonaws.com")]),
    OracleCase(name: "a rest-json GET with repeated keys, keys without values and odd encodings", service: "lambda", method: "GET",
               target: "/2015-03-31/functions/?tag=b&tag=a&MaxItems=10&empty=&flag&sp=a%20b&tilde=%7e&plus=1%2B1&raw=1+1&%D0%BA=%d0%b7",
               signed: [("Host", "lambda.us-east-1.amazonaws.com")]),
    OracleCase(name: "a path with double slashes, dot segments and an encoded space", service: "lambda", method: "GET",
               target: "/2015-03-31/functions//my%20fn/./../other/",
               signed: [("Host", "lambda.us-east-1.amazonaws.com")]),
    OracleCase(name: "STS GetCallerIdentity with a session token", service: "sts", method: "POST", target: "/",
               signed: [("Host", "sts.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
               body: "Action=GetCallerIdentity&Version=2011-06-15",
               token: "IQoJb3JpZ2luX2VjEXAMPLE//token+/="),
    OracleCase(name: "CloudFormation with a token replacing the agent's", service: "cloudformation", region: "ap-southeast-2", method: "POST",
               target: "/",
               signed: [("Host", "cloudformation.ap-southeast-2.amazonaws.com"),
                        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
               body: "Action=UpdateStack&StackName=web&UsePreviousTemplate=true&Version=2010-05-15",
               token: "FwoGZXIvYXdzEXAMPLE", agentToken: true),
]

/// A request of the AWS SigV4 test suite: the request, the canonical request and the
/// Authorization header the suite gives for it.
struct SuiteVector: Sendable, CustomTestStringConvertible {
    var name: String
    var request: String
    var canonicalRequest: String
    var authorization: String

    var testDescription: String { name }

    /// The suite's `.req` text as an APIRequest: `METHOD TARGET HTTP/1.1`, `Name:value` lines (a
    /// line starting with blanks continues the header before it), a blank line, the body.
    var parsedRequest: APIRequest {
        let parts = request.components(separatedBy: "\n\n")
        var lines = parts[0].split(separator: "\n").map(String.init)
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        var headers: [(name: String, value: String)] = []
        for line in lines {
            if line.first == " " {
                headers[headers.count - 1].value += "\n" + line
            } else {
                let colon = line.firstIndex(of: ":")!
                headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
            }
        }
        return APIRequest(method: method, host: "example.amazonaws.com", target: target, headers: headers,
                          body: Array(parts.dropFirst().joined(separator: "\n\n").utf8))
    }
}

// The AWS Signature Version 4 test suite (2015-08-30), as botocore ships it in
// tests/unit/auth/aws4_testsuite (Apache License 2.0, Amazon.com, Inc.; see the LICENSE and NOTICE there):
// the requests, canonical requests and Authorization headers, verbatim. Credentials AKIDEXAMPLE /
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service "service", 20150830T123600Z.
// post-sts-header-after is left out: it adds the token after signing, which the broker never does.
let suiteVectors: [SuiteVector] = [
        SuiteVector(name: "get-vanilla",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteVector(name: "get-vanilla-query",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteVector(name: "get-vanilla-empty-query-key",
                    request: "GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
        SuiteVector(name: "get-vanilla-query-order-key",
                    request: "GET /?Param1=value2&Param1=Value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
        SuiteVector(name: "get-vanilla-query-order-value",
                    request: "GET /?Param1=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
        SuiteVector(name: "get-vanilla-query-order-key-case",
                    request: "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        SuiteVector(name: "get-vanilla-query-order-encoded",
                    request: "GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n",
                    canonicalRequest: "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
        SuiteVector(name: "get-vanilla-query-unreserved",
                    request: "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        SuiteVector(name: "get-vanilla-utf8-query",
                    request: "GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        SuiteVector(name: "get-unreserved",
                    request: "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        SuiteVector(name: "get-utf8",
                    request: "GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        SuiteVector(name: "get-header-key-duplicate",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        SuiteVector(name: "get-header-value-multiline",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n  value2\n     value3\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1 value2 value3\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"),
        SuiteVector(name: "get-header-value-order",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        SuiteVector(name: "get-header-value-trim",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        SuiteVector(name: "post-header-key-case",
                    request: "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        SuiteVector(name: "post-header-key-sort",
                    request: "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
        SuiteVector(name: "post-header-value-case",
                    request: "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        SuiteVector(name: "post-vanilla",
                    request: "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        SuiteVector(name: "post-vanilla-query",
                    request: "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        SuiteVector(name: "post-vanilla-empty-query-value",
                    request: "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        SuiteVector(name: "post-x-www-form-urlencoded",
                    request: "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\nParam1=value1",
                    canonicalRequest: "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        SuiteVector(name: "post-x-www-form-urlencoded-parameters",
                    request: "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf8\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\nParam1=value1",
                    canonicalRequest: "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
        SuiteVector(name: "get-relative",
                    request: "GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteVector(name: "get-relative-relative",
                    request: "GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteVector(name: "get-slash",
                    request: "GET // HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteVector(name: "get-slash-dot-slash",
                    request: "GET /./ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteVector(name: "get-slash-pointless-dot",
                    request: "GET /./example HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/example\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
        SuiteVector(name: "get-slashes",
                    request: "GET //example// HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
        SuiteVector(name: "get-space",
                    request: "GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
        SuiteVector(name: "get-special-character",
                    request: "GET /example/$delete HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n",
                    canonicalRequest: "GET\n/example/%24delete\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27"),
        SuiteVector(name: "get-vanilla-with-session-token",
                    request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                    canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\nhost;x-amz-date;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
        SuiteVector(name: "post-sts-header-before",
                    request: "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nX-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==",
                    canonicalRequest: "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n\nhost;x-amz-date;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
]
