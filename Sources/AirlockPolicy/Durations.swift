/// Durations in profiles: integer seconds, or a string of number-unit pairs such as `"15m"`,
/// `"90s"`, `"1h30m"` (units `s`, `m`, `h`, `d`).
public enum Durations {
    static let units: [(suffix: Character, seconds: Int)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
    /// A year: far beyond any sensible wait, and far below anything that could overflow when
    /// added to a timestamp.
    static let maximum = 365 * 86_400

    /// The number of seconds `text` means, or nil if it is not a duration.
    static func seconds(_ text: String) -> Int? {
        var total = 0
        var number: Int?
        for c in text {
            if let digit = c.wholeNumberValue, c.isASCII {
                let (shifted, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, o2) = shifted.addingReportingOverflow(digit)
                if o1 || o2 { return nil }
                number = next
            } else if let unit = units.first(where: { $0.suffix == c }), let n = number {
                let (part, o1) = n.multipliedReportingOverflow(by: unit.seconds)
                let (sum, o2) = total.addingReportingOverflow(part)
                if o1 || o2 { return nil }
                total = sum
                number = nil
            } else {
                return nil
            }
        }
        // A trailing bare number ("15") or an empty string is ambiguous: say the unit.
        if number != nil || text.isEmpty { return nil }
        return total
    }

    /// The number of seconds a duration on the command line means: integer seconds (`10`, `0`) or
    /// a string as in a profile (`10s`, `1m`); nil if it is neither or longer than `maximum`.
    public static func commandLineSeconds(_ text: String) -> Int? {
        let bare = !text.isEmpty && text.allSatisfy { $0.isASCII && $0.isWholeNumber }
        guard let seconds = seconds(bare ? text + "s" : text), seconds <= maximum else { return nil }
        return seconds
    }

    /// The shortest string `seconds(_:)` reads back as `seconds` ("15m", "1h30m", "0s").
    static func format(_ seconds: Int) -> String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var text = ""
        for unit in units where rest >= unit.seconds {
            text += "\(rest / unit.seconds)\(unit.suffix)"
            rest %= unit.seconds
        }
        return text
    }
}
