import Foundation

/// A byte string from the agent's side — a path, an argv element, a working directory — as the
/// queue stores it, losslessly.
///
/// Bytes that are valid UTF-8 without control characters are written as a plain JSON string, so
/// the file stays readable; anything else (a Latin-1 file name, an escape sequence meant for the
/// approver's terminal, a bidi override that would make a path read differently than it is) is
/// written as `{"b64": "…"}`. Both read back to the exact same bytes, and
/// digests are always taken over the bytes, never over a repaired string.
struct QueueBytes: Codable, Equatable, Sendable {
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
            try container.encode(Data(bytes).base64EncodedString(), forKey: .b64)
        }
    }

    init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            bytes = Array(text.utf8)
            return
        }
        let container = try decoder.container(keyedBy: Keys.self)
        let encoded = try container.decode(String.self, forKey: .b64)
        guard let data = Data(base64Encoded: encoded) else {
            throw DecodingError.dataCorruptedError(forKey: .b64, in: container, debugDescription: "not base64")
        }
        bytes = [UInt8](data)
    }
}
