import AirlockNetwork
import AirlockPolicy
import Foundation
import Logging
import NIOCore
import Testing

/// A proxy on a fresh loopback port with its own log file.
final class ProxyFixture {
    let proxy: EgressProxy
    let port: Int
    let logPath: String

    convenience init(allow: [String] = [], deny: [String] = [], unknown: UnknownHostAction = .deny,
                     headTimeout: Duration = .seconds(30)) throws {
        try self.init(policy: try NetworkPolicy(allow: allow, deny: deny, unknown: unknown), headTimeout: headTimeout)
    }

    init(policy: NetworkPolicy, inspection: InspectionTLS? = nil, api: APIGate? = nil, routes: [String: UpstreamRoute] = [:],
         headTimeout: Duration = .seconds(30)) throws {
        let (fd, port) = try makeListeningSocket()
        self.port = port
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-net-\(UUID().uuidString).jsonl").path
        proxy = EgressProxy(
            listeningSocket: fd, policy: policy, log: try NetworkLog(path: logPath),
            logger: Logger(label: "airlock.test.proxy"), inspection: inspection, api: api, routes: routes, headTimeout: headTimeout)
        try proxy.start()
    }

    func stop() {
        proxy.stop()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// The log's lines as JSON objects, waiting up to `seconds` for at least `count` of them.
    func logLines(atLeast count: Int, within seconds: Double = 5) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            if lines.count >= count || Date() > deadline {
                return try lines.map { line in
                    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                        throw TestFailure("log line is not an object: \(line)")
                    }
                    return object
                }
            }
            usleep(20_000)
        }
    }
}

@Suite(.serialized) final class EgressProxyTests {
    let upstreams = TestUpstreams()

    deinit { upstreams.shutdown() }

    private func httpUpstreamPort() throws -> Int {
        try #require(try upstreams.startHTTP().localAddress?.port)
    }

    @Test func anAllowedPlainHTTPRequestIsForwardedWithItsMethodBodyAndHost() throws {
        let upstream = try httpUpstreamPort()
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        defer { fixture.stop() }
        let get = try curl(proxyPort: fixture.port, "http://127.0.0.1:\(upstream)/hello?x=1")
        #expect(get.status == 200, "\(get.result.stderr)")
        #expect(get.body.contains("upstream saw GET /hello?x=1 host=127.0.0.1:\(upstream) body=0"))
        let post = try curl(proxyPort: fixture.port, "http://127.0.0.1:\(upstream)/submit",
                            extra: ["-d", "abcdef", "--proxy-user", "agent:secret"])
        #expect(post.status == 200)
        #expect(post.body.contains("upstream saw POST /submit"))
        #expect(post.body.contains("body=6"))
        #expect(post.body.contains("proxy-authorization=0"), "Proxy-Authorization must not be forwarded")
    }

    @Test func largeBodiesGoThroughWhole() throws {
        let upstream = try httpUpstreamPort()
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        defer { fixture.stop() }
        let size = 16 * 1024 * 1024
        let download = try run("/usr/bin/curl", [
            "-sS", "--max-time", "30", "-x", "http://127.0.0.1:\(fixture.port)", "-o", "/dev/null",
            "-w", "%{http_code} %{size_download}", "http://127.0.0.1:\(upstream)/big/\(size)",
        ])
        #expect(download.stdout == "200 \(size)", "\(download.stderr)")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-upload-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(repeating: 0x61, count: 8 * 1024 * 1024).write(to: file)
        let upload = try curl(proxyPort: fixture.port, "http://127.0.0.1:\(upstream)/upload",
                              extra: ["--data-binary", "@\(file.path)"])
        #expect(upload.status == 200, "\(upload.result.stderr)")
        #expect(upload.body.contains("body=\(8 * 1024 * 1024)"))
        let chunked = try curl(proxyPort: fixture.port, "http://127.0.0.1:\(upstream)/upload",
                               extra: ["--data-binary", "@\(file.path)", "-H", "Transfer-Encoding: chunked"])
        #expect(chunked.status == 200)
        #expect(chunked.body.contains("body=\(8 * 1024 * 1024)"))
    }

    @Test func httpsGoesThroughACONNECTTunnelUntouched() throws {
        let server = try TestHTTPSServer()
        defer { server.stop() }
        let fixture = try ProxyFixture(allow: ["localhost"])
        defer { fixture.stop() }
        let result = try curl(proxyPort: fixture.port, "https://localhost:\(server.port)/",
                              extra: ["--cacert", server.certificate])
        #expect(result.status == 200, "\(result.result.stderr)")
        #expect(result.body.hasPrefix("secure hello"))
    }

    @Test func aDeniedHostIsRefusedWith403NamingTheRule() throws {
        let fixture = try ProxyFixture(allow: ["*"], deny: ["*.example"])
        defer { fixture.stop() }
        let result = try curl(proxyPort: fixture.port, "http://evil.example/")
        #expect(result.status == 403)
        #expect(result.body == "airlock: connection to evil.example:80 refused by rule \"deny *.example\"\n")

        let client = try RawClient(port: fixture.port)
        client.send("CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 403"))
        #expect(response.contains("airlock: connection to evil.example:443 refused by rule \"deny *.example\""))
    }

    @Test func aCONNECTToAPortTheRuleDoesNotAllowIsRefused() throws {
        let echo = try #require(try upstreams.startEcho().localAddress?.port)
        let fixture = try ProxyFixture(allow: ["127.0.0.1:1"])
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        client.send("CONNECT 127.0.0.1:\(echo) HTTP/1.1\r\nHost: 127.0.0.1:\(echo)\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 403"), "\(response)")
        #expect(response.contains("airlock: connection to 127.0.0.1:\(echo) refused by rule \"unknown = deny\""))
    }

    @Test(arguments: [(0.0, "0.000"), (12.3456, "12.346"), (0.04, "0.040"), (1999.9999, "2000.000"), (-1, "0.000")])
    func durationsAreWrittenWithThreeDecimals(value: Double, written: String) {
        let entry = NetworkLogEntry(kind: .connect, time: Date(timeIntervalSince1970: 0), host: "h", port: 1,
                                    decision: "allow", rule: "r", durationMs: value)
        let line = String(decoding: entry.jsonLine(), as: UTF8.self)
        #expect(line.contains("\"duration_ms\":\(written)}"), "\(line)")
        #expect(line.hasPrefix("{\"time\":\"1970-01-01T00:00:00.000Z\""), "\(line)")
    }

    @Test func aHostileHostCannotBreakALogLine() throws {
        let entry = NetworkLogEntry(kind: .request, time: Date(), host: "a\"b\nc", port: 80, decision: "deny",
                                    rule: "unknown = deny", method: "GET", path: "/\u{2028}x\\")
        let line = String(decoding: entry.jsonLine(), as: UTF8.self)
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["host"] as? String == "a\"b\nc")
        #expect(object["path"] as? String == "/\u{2028}x\\")
    }

    @Test func aHostNoRuleNamesIsRefusedWhenUnknownIsDeny() throws {
        let fixture = try ProxyFixture(allow: ["github.com"], unknown: .deny)
        defer { fixture.stop() }
        let result = try curl(proxyPort: fixture.port, "http://elsewhere.test/")
        #expect(result.status == 403)
        #expect(result.body.contains("refused by rule \"unknown = deny\""))
    }

    @Test func loopbackIsReachableOnlyWhenARuleNamesItExactly() throws {
        let upstream = try httpUpstreamPort()
        let wildcard = try ProxyFixture(allow: ["*"])
        defer { wildcard.stop() }
        let refused = try curl(proxyPort: wildcard.port, "http://127.0.0.1:\(upstream)/")
        #expect(refused.status == 403)
        #expect(refused.body.contains("127.0.0.1 is a loopback address"))
        let byName = try curl(proxyPort: wildcard.port, "http://localhost:\(upstream)/")
        #expect(byName.status == 403)
        #expect(byName.body.contains("localhost resolves to"))

        let named = try ProxyFixture(allow: ["127.0.0.1:\(upstream)"])
        defer { named.stop() }
        #expect(try curl(proxyPort: named.port, "http://127.0.0.1:\(upstream)/").status == 200)
    }

    @Test func theMetadataAddressIsRefusedEvenWhenARuleAllowsIt() throws {
        let fixture = try ProxyFixture(allow: ["169.254.169.254", "*"])
        defer { fixture.stop() }
        let result = try curl(proxyPort: fixture.port, "http://169.254.169.254/latest/meta-data/")
        #expect(result.status == 403)
        #expect(result.body.contains("cloud instance metadata"))
        let byName = try curl(proxyPort: fixture.port, "http://metadata.google.internal/computeMetadata/v1/")
        #expect(byName.status == 403)
        #expect(byName.body.contains("instance-metadata"))
    }

    @Test func aMalformedRequestGets400AndTheProxyServesTheNextClient() throws {
        let upstream = try httpUpstreamPort()
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        client.send("THIS IS NOT HTTP\u{1}\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 400"), "\(response)")
        #expect(response.contains("airlock: malformed request"))
        #expect(try curl(proxyPort: fixture.port, "http://127.0.0.1:\(upstream)/").status == 200)
    }

    @Test func aRequestWithBothContentLengthAndTransferEncodingIsRefused() throws {
        let upstream = try httpUpstreamPort()
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        client.send("POST http://127.0.0.1:\(upstream)/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 400"), "\(response)")
        #expect(response.contains("airlock:"))
    }

    @Test func anOriginFormRequestIsNotAProxyRequest() throws {
        let fixture = try ProxyFixture(allow: ["*"])
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        client.send("GET /index.html HTTP/1.1\r\nHost: example.org\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 405"), "\(response)")
        #expect(response.contains("airlock: this is Airlock's egress proxy"))
    }

    @Test func aRequestHeadOver64KiBGets431() throws {
        let fixture = try ProxyFixture(allow: ["*"])
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port)
        client.send("GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\nX-Big: "
                    + String(repeating: "a", count: 70_000) + "\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 431"), "\(response.prefix(200))")
    }

    @Test func aClientThatStallsInItsRequestHeadIsClosed() throws {
        let fixture = try ProxyFixture(allow: ["*"], headTimeout: .seconds(1))
        defer { fixture.stop() }
        let client = try RawClient(port: fixture.port, timeoutSeconds: 8)
        let start = Date()
        client.send("GET http://example.org/ HTTP/1.1\r\nHost: exa")
        let response = try #require(client.readToEOF(), "the proxy did not close the stalled client")
        #expect(Date().timeIntervalSince(start) < 6)
        #expect(response.contains("408"))
    }

    @Test func anUnreachableUpstreamGets502() throws {
        let (fd, closedPort) = try makeListeningSocket()
        close(fd)  // nothing listens there now
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        defer { fixture.stop() }
        let result = try curl(proxyPort: fixture.port, "http://127.0.0.1:\(closedPort)/")
        #expect(result.status == 502)
        #expect(result.body.contains("airlock: cannot connect to 127.0.0.1:\(closedPort)"))
    }

    @Test func aThousandConcurrentTunnelsAllCarryTheirBytesAndHalfClose() throws {
        // This process holds both ends of every connection and the proxy's upstream side: 4,000
        // descriptors. The proxy raises its own soft limit to the hard one when it starts.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_max < 8192 { limit.rlim_max = 8192 }
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let echo = try #require(try upstreams.startEcho().localAddress?.port)
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        defer { fixture.stop() }
        let clients = try (0..<1000).map { _ in try RawClient(port: fixture.port) }
        for client in clients {
            client.send("CONNECT 127.0.0.1:\(echo) HTTP/1.1\r\nHost: 127.0.0.1:\(echo)\r\n\r\n")
        }
        for client in clients {
            let head = client.read(until: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 200 Connection Established"), "\(head)")
        }
        for (index, client) in clients.enumerated() { client.send("ping \(index)\n") }
        for (index, client) in clients.enumerated() {
            #expect(client.read(until: "\n") == "ping \(index)\n")
        }
        // Half-close: the client's EOF reaches the upstream, whose close ends the tunnel.
        for client in clients { client.shutdownWrite() }
        for client in clients { #expect(client.readToEOF() == "") }

        let lines = try fixture.logLines(atLeast: 1000)
        #expect(lines.count == 1000)
        let first = try #require(lines.first)
        #expect(first["kind"] as? String == "connect")
        #expect(first["host"] as? String == "127.0.0.1")
        #expect(first["port"] as? Int == echo)
        #expect(first["decision"] as? String == "allow")
        #expect(first["rule"] as? String == "allow 127.0.0.1")
        #expect((first["bytes_up"] as? Int ?? 0) >= 7)
        #expect((first["bytes_down"] as? Int ?? 0) >= 7)
        #expect(first["duration_ms"] is Double || first["duration_ms"] is Int)
        #expect(first["time"] is String)
    }

    @Test func stoppingTheProxyClosesOpenTunnelsAndTheListeningSocket() throws {
        let echo = try #require(try upstreams.startEcho().localAddress?.port)
        let fixture = try ProxyFixture(allow: ["127.0.0.1"])
        let client = try RawClient(port: fixture.port, timeoutSeconds: 5)
        client.send("CONNECT 127.0.0.1:\(echo) HTTP/1.1\r\n\r\n")
        #expect(client.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        fixture.stop()
        #expect(client.readToEOF() == "", "the tunnel outlived the proxy")
        #expect(throws: TestFailure.self) { try RawClient(port: fixture.port) }
    }

    @Test func theLogHasALinePerForwardedRequestAndPerRefusal() throws {
        let upstream = try httpUpstreamPort()
        let fixture = try ProxyFixture(allow: ["127.0.0.1"], deny: ["*.example"])
        defer { fixture.stop() }
        #expect(try curl(proxyPort: fixture.port, "http://127.0.0.1:\(upstream)/a/b?c=d").status == 200)
        #expect(try curl(proxyPort: fixture.port, "http://evil.example/x").status == 403)
        let lines = try fixture.logLines(atLeast: 2)
        #expect(lines.count == 2, "\(lines)")
        let forwarded = try #require(lines.first { $0["status"] as? Int == 200 })
        #expect(forwarded["kind"] as? String == "request")
        #expect(forwarded["method"] as? String == "GET")
        #expect(forwarded["host"] as? String == "127.0.0.1")
        #expect(forwarded["path"] as? String == "/a/b?c=d")
        #expect(forwarded["rule"] as? String == "allow 127.0.0.1")
        #expect((forwarded["bytes_down"] as? Int ?? 0) > 0)
        let refused = try #require(lines.first { $0["status"] as? Int == 403 })
        #expect(refused["decision"] as? String == "deny")
        #expect(refused["rule"] as? String == "deny *.example")
        #expect(refused["host"] as? String == "evil.example")
    }
}
