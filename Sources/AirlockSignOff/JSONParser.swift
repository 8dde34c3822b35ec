/// A strict JSON reader (RFC 8259) for queue lines.
///
/// Why not JSONDecoder: replaying a queue reads a hundred thousand lines, and Foundation spends
/// about five microseconds per line before any field is looked at. This reader does the one thing
/// the queue needs — bytes to `JSONValue` — and is strict where leniency would be a hole: a key
/// that appears twice is an error (two parsers could otherwise disagree on which one a line says),
/// raw control characters and lone surrogates are errors, nesting is bounded, and nothing may
/// follow the value.
enum JSONParser {
    static let maximumDepth = 32

    struct Failure: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "\(reason) at byte \(offset)" }
    }

    static func parse(_ bytes: ArraySlice<UInt8>) throws -> JSONValue {
        try parseWhole(bytes) { try $0.value(depth: 0) }
    }

    /// Parses a JSON object, returning its members in order, for callers that look each key up once
    /// (a queue line) and need no dictionary. Duplicate keys are still an error.
    static func parseObject(_ bytes: ArraySlice<UInt8>) throws -> [(key: String, value: JSONValue)] {
        try parseWhole(bytes) { parser in
            guard parser.peek == UInt8(ascii: "{") else { throw parser.failure("expected an object") }
            let members = try parser.members(depth: 0)
            var keys = Set<String>(minimumCapacity: members.count)
            for member in members where !keys.insert(member.key).inserted {
                throw parser.failure("duplicate key \(member.key.debugDescription)")
            }
            return members
        }
    }

    private static func parseWhole<T>(_ bytes: ArraySlice<UInt8>, _ body: (inout Parser) throws -> T) throws -> T {
        var parser = Parser(bytes: bytes, index: bytes.startIndex)
        parser.skipWhitespace()
        let value = try body(&parser)
        parser.skipWhitespace()
        guard parser.index == bytes.endIndex else { throw parser.failure("unexpected characters after the value") }
        return value
    }
}

private struct Parser {
    let bytes: ArraySlice<UInt8>
    var index: Int

    func failure(_ reason: String) -> JSONParser.Failure {
        JSONParser.Failure(offset: index - bytes.startIndex, reason: reason)
    }

    var peek: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peek == byte else { throw failure("expected \(what)") }
        index += 1
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maximumDepth else { throw failure("nested too deeply") }
        guard let byte = peek else { throw failure("unexpected end") }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { expected in
            index + count <= bytes.endIndex && bytes[index..<index + count].elementsEqual(expected)
        }
        guard matches else { throw failure("invalid literal") }
        index += count
    }

    mutating func object(depth: Int) throws -> JSONValue {
        var object: [String: JSONValue] = [:]
        for (key, value) in try members(depth: depth) {
            guard object.updateValue(value, forKey: key) == nil else { throw failure("duplicate key \(key.debugDescription)") }
        }
        return .object(object)
    }

    mutating func members(depth: Int) throws -> [(key: String, value: JSONValue)] {
        index += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if peek == UInt8(ascii: "}") { index += 1; return members }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw failure("expected a key") }
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            members.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return members
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(elements)
        }
    }

    mutating func string() throws -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, which is almost every string in the queue; ASCII needs no check.
        var ascii = true
        while let byte = peek, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw failure("control character in a string") }
            ascii = ascii && byte < 0x80
            index += 1
        }
        if peek == UInt8(ascii: "\"") {
            index += 1
            let utf8 = bytes[start..<index - 1]
            return ascii ? String(decoding: utf8, as: UTF8.self) : try validUTF8(utf8)
        }
        var utf8 = Array(bytes[start..<index])
        while true {
            guard let byte = peek else { throw failure("unterminated string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try validUTF8(utf8[...])
            case UInt8(ascii: "\\"):
                try escape(into: &utf8)
            case ..<0x20:
                index -= 1
                throw failure("control character in a string")
            default:
                utf8.append(byte)
            }
        }
    }

    /// The text of `utf8`, which must be valid UTF-8. Decoding repairs invalid sequences with
    /// U+FFFD, so the bytes come back unchanged exactly when they were valid.
    func validUTF8(_ utf8: ArraySlice<UInt8>) throws -> String {
        let text = String(decoding: utf8, as: UTF8.self)
        guard text.utf8.elementsEqual(utf8) else { throw failure("string is not UTF-8") }
        return text
    }

    mutating func escape(into utf8: inout [UInt8]) throws {
        guard let byte = peek else { throw failure("unterminated escape") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard peek == UInt8(ascii: "\\") else { throw failure("lone surrogate") }
                index += 1
                try expect(UInt8(ascii: "u"), "a low surrogate")
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw failure("lone surrogate") }
                scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("lone surrogate") }
            utf8 += Array(String(Character(unicode)).utf8)
        default:
            throw failure("invalid escape")
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.endIndex else { throw failure("short \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`; an integer when it has neither
    /// fraction nor exponent and fits in 64 bits.
    mutating func number() throws -> JSONValue {
        let start = index
        func digits() -> Int {
            let from = index
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - from
        }
        if peek == UInt8(ascii: "-") { index += 1 }
        if peek == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { throw failure("invalid number") }
        }
        var integral = true
        if peek == UInt8(ascii: ".") {
            index += 1
            integral = false
            guard digits() > 0 else { throw failure("invalid number") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            integral = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw failure("invalid number") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { throw failure("number out of range") }
        return .number(value)
    }
}
