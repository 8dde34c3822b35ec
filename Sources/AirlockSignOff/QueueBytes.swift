import Foundation

/// A byte string from the agent's side — a path, an argv element, a working directory — as the
/// queue stores it, losslessly.
///
/// Bytes that are valid UTF-8 without control characters are written as a plain JSON string, so
/// the file stays readable; anything else (a Latin-1 file name, an escape sequence meant for the
/// approver's terminal, a bidi override that would make a path read differently than it is) is
/// written as `{"b64": "…"}`. Both read back to the exact same bytes, and
/// digests are always taken over the bytes, never over a repaired string.
struct QueueBytes: Encodable, Equatable, Sendable {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Control (Cc), format (Cf: bidi overrides, zero-width characters) and line/paragraph separators.
    private static let hidden: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]

    private enum Keys: String, CodingKey { case b64 }

    /// The bytes as text when they can be shown as they are, nil otherwise.
    static func plainText(_ bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self),
              !text.unicodeScalars.contains(where: { hidden.contains($0.properties.generalCategory) })
        else { return nil }
        return text
    }

    func encode(to encoder: Encoder) throws {
        if let text = Self.plainText(bytes) {
            var container = encoder.singleValueContainer()
            try container.encode(text)
        } else {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(Base64.encode(bytes), forKey: .b64)
        }
    }

    /// Reads either form back; nil when `json` is neither a string nor exactly `{"b64": base64}`.
    init?(json: JSONValue) {
        switch json {
        case .string(let text):
            bytes = Array(text.utf8)
        case .object(let fields):
            guard fields.count == 1, case .string(let encoded)? = fields["b64"],
                  let decoded = Base64.decode(encoded.utf8) else { return nil }
            bytes = decoded
        default:
            return nil
        }
    }
}
