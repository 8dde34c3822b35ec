import AirlockPolicy
import Crypto

extension APIRequest {
    /// Headers that change between an SDK's attempts at one request, or only frame it: left out
    /// of `canonicalDigest`, so a retry (re-signed, re-dated, a new attempt count) is the same
    /// request and anything else is another.
    static let volatileHeaders: Set<String> = [
        "authorization", "x-amz-date", "date", "x-amz-security-token", "amz-sdk-request", "amz-sdk-invocation-id",
        "user-agent", "x-amz-user-agent", "content-length", "connection", "keep-alive", "expect", "te",
        "transfer-encoding", "accept-encoding", "x-amzn-trace-id", "traceparent", "tracestate",
    ]

    /// SHA-256, lowercase hex, over the request as its upstream would act on it: method, host,
    /// port, target, every header but the volatile ones (names lowercased, sorted, values trimmed)
    /// and the body. Each field is a big-endian uint32 length then its bytes, so no two requests
    /// share an encoding.
    public var canonicalDigest: String {
        var hasher = SHA256()
        func field(_ bytes: some Collection<UInt8>) {
            let count = UInt32(clamping: bytes.count)
            hasher.update(data: [UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)])
            hasher.update(data: Array(bytes))
        }
        field(Array("airlock-api-v1".utf8))
        for text in [method, host, String(port), target] { field(Array(text.utf8)) }
        let kept = headers
            .map { (name: $0.name.lowercased(), value: $0.value.trimmingWhitespace) }
            .filter { !Self.volatileHeaders.contains($0.name) }
            .sorted { ($0.name, $0.value) < ($1.name, $1.value) }
        field(Array(String(kept.count).utf8))
        for header in kept {
            field(Array(header.name.utf8))
            field(Array(header.value.utf8))
        }
        field(body)
        return hasher.finalize().map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]], as: UTF8.self)
        }.joined()
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingWhitespace: String {
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
