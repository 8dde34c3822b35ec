/// Request ids: six characters a person can read aloud and type, such as `k7tq2m`.
///
/// The id is derived from the request line's `seq`, which the writer assigns under the queue lock,
/// so ids are unique within a file by construction — no scan of the file, and no birthday
/// collisions, which random six-character ids would hit after a few tens of thousands of requests.
/// A fixed affine permutation scatters consecutive sequence numbers so neighbouring requests do
/// not differ by one character.
public enum RequestID {
    /// No 0/o, 1/l/i: nothing that reads as something else.
    static let alphabet = Array("23456789abcdefghjkmnpqrstuvwxyz")
    private static let width = 6
    private static let space: Int64 = 887_503_681  // 31^6
    private static let multiplier: Int64 = 550_024_787  // not a multiple of 31, so the map is a bijection
    private static let offset: Int64 = 123_456_789

    /// The id of the request written as line `seq`: six characters for the first 887 million
    /// sequence numbers, longer after that.
    public static func forSequence(_ seq: UInt64) -> String {
        let n = Int64(seq % UInt64(space))
        var value = (n * multiplier + offset) % space
        var id: [Character] = []
        for _ in 0..<width {
            id.append(alphabet[Int(value % 31)])
            value /= 31
        }
        var high = seq / UInt64(space)
        while high > 0 {
            id.append(alphabet[Int(high % 31)])
            high /= 31
        }
        return String(id.reversed())
    }

    /// Whether `text` could be a request id (the right characters, a sane length).
    public static func isWellFormed(_ text: String) -> Bool {
        (width...16).contains(text.count) && text.allSatisfy(alphabet.contains)
    }
}
