/// Standard base64 (RFC 4648 §4), strict: padding required, no whitespace, no stray characters.
///
/// Hand-written because a queue replay decodes and fingerprints tens of thousands of signatures,
/// and Foundation's round trip through `Data` cost more than the rest of that work together.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    static func encode(_ bytes: some Collection<UInt8>, padding: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next(), c = b == nil ? nil : iterator.next()
            let word = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(alphabet[Int(word >> 18 & 63)])
            out.append(alphabet[Int(word >> 12 & 63)])
            if b != nil { out.append(alphabet[Int(word >> 6 & 63)]) } else if padding { out.append(UInt8(ascii: "=")) }
            if c != nil { out.append(alphabet[Int(word & 63)]) } else if padding { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil unless `text` is canonical padded base64.
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let input = Array(text)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let pad = isLast ? (input[index + 3] == UInt8(ascii: "=") ? (input[index + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var word: UInt32 = 0
            for offset in 0..<4 {
                let value = offset >= 4 - pad ? 0 : values[Int(input[index + offset])]
                guard value != 0xFF else { return nil }
                word = word << 6 | UInt32(value)
            }
            out.append(UInt8(word >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(word >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(word & 0xFF)) }
            // Canonical: the bits a padded quantum leaves over must be zero.
            if pad == 2, word >> 8 & 0xFF != 0 { return nil }
            if pad == 1, word & 0xFF != 0 { return nil }
            index += 4
        }
        return out
    }
}
