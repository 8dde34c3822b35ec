import AirlockPolicy

/// A JSON request body. Objects keep every member in order, duplicate names included, so that a
/// check can look at every value some server might take: JSON parsers differ on which duplicate
/// wins, and the one that matters is upstream's, not ours.
indirect enum BodyJSON: Equatable {
    case object([Member])
    case array([BodyJSON])
    case string(String)
    /// The number as written (`0`, `-0.0`, `1e3`).
    case number(String)
    case bool(Bool)
    case null

    struct Member: Equatable {
        var name: String
        var value: BodyJSON
    }

    /// Deeper than this is refused: no request body worth reading nests so far, and the parser recurses.
    static let maximumDepth = 128

    /// nil when `bytes` is not one JSON value (surrounded by whitespace at most).
    init?(_ bytes: [UInt8]) {
        var reader = BodyJSONReader(bytes: bytes)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        guard reader.index == bytes.count else { return nil }
        self = value
    }

    /// Every value at `path` from here, following every member whose name matches each step
    /// regardless of case (servers have matched field names both ways).
    func values(at path: [String]) -> [BodyJSON] {
        guard let step = path.first else { return [self] }
        guard case .object(let members) = self else { return [] }
        return members.filter { $0.name.lowercased() == step.lowercased() }.flatMap { $0.value.values(at: Array(path.dropFirst())) }
    }

    /// A number equal to zero however it is written (`0`, `-0`, `0.0`, `0e7`).
    var isZero: Bool {
        guard case .number(let text) = self else { return false }
        return Double(text) == 0
    }

    /// Whether any object in it names a member twice (names compared unescaped).
    var namesAMemberTwice: Bool {
        switch self {
        case .object(let members):
            var names = Set<String>()
            return members.contains { !names.insert($0.name).inserted || $0.value.namesAMemberTwice }
        case .array(let elements):
            return elements.contains(where: \.namesAMemberTwice)
        default:
            return false
        }
    }
}

/// A strict recursive-descent reader of RFC 8259 JSON.
private struct BodyJSONReader {
    let bytes: [UInt8]
    var index = 0

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) -> BodyJSON? {
        guard depth < BodyJSON.maximumDepth else { return nil }
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [BodyJSON.Member] = []
            skipWhitespace()
            if consume("}") { return .object(members) }
            repeat {
                skipWhitespace()
                guard let name = string() else { return nil }
                skipWhitespace()
                guard consume(":"), let value = value(depth: depth + 1) else { return nil }
                members.append(.init(name: name, value: value))
                skipWhitespace()
            } while consume(",")
            return consume("}") ? .object(members) : nil
        case UInt8(ascii: "["):
            index += 1
            var elements: [BodyJSON] = []
            skipWhitespace()
            if consume("]") { return .array(elements) }
            repeat {
                guard let element = value(depth: depth + 1) else { return nil }
                elements.append(element)
                skipWhitespace()
            } while consume(",")
            return consume("]") ? .array(elements) : nil
        case UInt8(ascii: "\""):
            return string().map(BodyJSON.string)
        case UInt8(ascii: "t"):
            return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return literal("null") ? .null : nil
        default:
            return number()
        }
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    private mutating func literal(_ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
        index += expected.count
        return true
    }

    private mutating func number() -> BodyJSON? {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        _ = consume("-")
        let integer = index
        let count = digits()
        guard count > 0, count == 1 || bytes[integer] != UInt8(ascii: "0") else { return nil }
        if consume(".") { guard digits() > 0 else { return nil } }
        if consume("e") || consume("E") {
            if !consume("+") { _ = consume("-") }
            guard digits() > 0 else { return nil }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// A string at `index` (which holds its opening quote), escapes decoded; nil when malformed.
    private mutating func string() -> String? {
        guard consume("\"") else { return nil }
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard consume("\\"), consume("u"), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    out += Array(String(Character(unicode)).utf8)
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                out.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = RequestParts.hexDigit(byte) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }
}
