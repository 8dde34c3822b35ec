/// Reads the SSH wire encoding (RFC 4251 §5: `byte`, `uint32`, `string`) from untrusted bytes.
///
/// Every read checks the remaining length first and throws instead of trapping, so a fuzzer can
/// feed it anything. Nothing here allocates more than the input already holds.
struct SSHWireReader {
    private let bytes: [UInt8]
    private(set) var offset: Int = 0
    /// What is being read, for error messages ("SSH signature", "public key").
    private let context: String

    init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.context = context
    }

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func readBytes(_ count: Int, _ field: String) throws -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw malformed("\(field): needs \(count) bytes at offset \(offset), \(remaining) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readByte(_ field: String) throws -> UInt8 {
        try readBytes(1, field)[0]
    }

    mutating func readUInt32(_ field: String) throws -> UInt32 {
        let b = try readBytes(4, field)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    /// A `string`: a uint32 length, then that many bytes.
    mutating func readString(_ field: String) throws -> [UInt8] {
        let length = try readUInt32("\(field) length")
        return try readBytes(Int(length), field)
    }

    /// A `string` holding text, such as an algorithm name; it must be UTF-8.
    mutating func readText(_ field: String) throws -> String {
        let raw = try readString(field)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw malformed("\(field) is not UTF-8")
        }
        return text
    }

    func expectEnd() throws {
        guard isAtEnd else { throw malformed("\(remaining) unexpected bytes after the end") }
    }

    func malformed(_ why: String) -> SignOffError {
        SignOffError(context == "public key" ? .malformedKey : .malformedSignature, "\(context): \(why)")
    }
}

/// Writes the SSH wire encoding; the counterpart of `SSHWireReader`.
struct SSHWireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(byte: UInt8) { bytes.append(byte) }

    mutating func write(uint32 value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                  UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    mutating func write(raw: some Collection<UInt8>) { bytes += raw }

    mutating func write(string: some Collection<UInt8>) {
        write(uint32: UInt32(string.count))
        bytes += string
    }

    mutating func write(text: String) { write(string: Array(text.utf8)) }
}
