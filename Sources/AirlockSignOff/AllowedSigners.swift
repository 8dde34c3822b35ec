import Foundation

/// The approvers: an OpenSSH allowed_signers file (ssh-keygen(1) "ALLOWED SIGNERS", as git uses).
///
/// Each line is `principals [options] keytype base64 [comment]`; principals are a comma-separated
/// pattern list; the options Airlock honours are `namespaces="…"`, `valid-after="…"` and
/// `valid-before="…"`. `cert-authority` lines are skipped with a note, because Airlock's
/// approvals are signed by plain keys, not certificates; so are keys of types Airlock cannot
/// verify (RSA, DSA, other curves). Anything else that cannot be read is an error naming the
/// file and line — an approvers file that cannot be read must count no approval at all.
public struct AllowedSigners: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The principals field, split at commas (patterns, as written).
        public var principals: [String]
        public var key: SSHPublicKey
        /// The `namespaces=` pattern list, nil when the line has none (then every namespace).
        public var namespaces: String?
        public var validAfter: Date?
        public var validBefore: Date?
        /// 1-based line in `file`.
        public var line: Int
    }

    /// The file the entries came from, as named in errors and notes.
    public let file: String
    public let entries: [Entry]
    /// Lines that were skipped on purpose, each as `FILE:LINE: why`.
    public let notes: [String]
    private let entriesByFingerprint: [String: [Entry]]

    /// Reads and parses the file at `path`.
    public init(contentsOf path: String) throws {
        let bytes = try FileIO.readAll(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SignOffError(.malformedApprovers, "\(path): not UTF-8 text")
        }
        try self.init(text: text, file: path)
    }

    public init(text: String, file: String = "allowed_signers") throws {
        var entries: [Entry] = []
        var notes: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let where_ = "\(file):\(index + 1)"
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                switch try Self.parse(line: line, number: index + 1) {
                case .entry(let entry): entries.append(entry)
                case .skipped(let why): notes.append("\(where_): \(why)")
                }
            } catch let error as SignOffError {
                throw SignOffError(.malformedApprovers, "\(where_): \(error.message)")
            }
        }
        self.file = file
        self.entries = entries
        self.notes = notes
        self.entriesByFingerprint = Dictionary(grouping: entries, by: \.key.fingerprint)
    }

    /// The principals `key` stands for when signing in `namespace` at time `date`: empty when the key
    /// is not listed, or only on lines whose `namespaces=` excludes `namespace` or whose validity
    /// window does not contain `date`.
    public func principals(for key: SSHPublicKey, namespace: String, at date: Date) -> [String] {
        principals(forFingerprint: key.fingerprint, namespace: namespace, at: date)
    }

    /// The same, for the key with this SHA-256 fingerprint (`SHA256:…`).
    public func principals(forFingerprint fingerprint: String, namespace: String, at date: Date) -> [String] {
        (entriesByFingerprint[fingerprint] ?? []).filter { entry in
            if let namespaces = entry.namespaces, !PatternList(namespaces).matches(namespace) { return false }
            if let after = entry.validAfter, date < after { return false }
            if let before = entry.validBefore, date > before { return false }
            return true
        }.flatMap(\.principals)
    }

    private enum Parsed { case entry(Entry), skipped(String) }

    private static func parse(line: String, number: Int) throws -> Parsed {
        var fields = try tokens(line)
        let principals = unquoted(fields.removeFirst())
        guard !fields.isEmpty else { throw SignOffError(.malformedApprovers, "missing key after the principals") }
        var options: [String: String] = [:]
        // A key type starts with one of these; anything else in this place is the options field.
        if !["ssh-", "ecdsa-", "sk-"].contains(where: { fields[0].hasPrefix($0) }) {
            options = try parseOptions(fields.removeFirst())
        }
        guard fields.count >= 2 else { throw SignOffError(.malformedApprovers, "expected \"keytype base64\" after the principals") }
        if options["cert-authority"] != nil {
            return .skipped("cert-authority line ignored: Airlock approvals are signed by plain keys, not certificates")
        }
        let key: SSHPublicKey
        do {
            key = try SSHPublicKey(type: fields[0], base64: fields[1],
                                   comment: fields.count > 2 ? fields[2...].joined(separator: " ") : nil)
        } catch let error as SignOffError where error.code == .unsupportedAlgorithm {
            return .skipped("\(fields[0]) key ignored: \(error.message)")
        }
        let principalList = principals.split(separator: ",").map(String.init)
        guard !principalList.isEmpty else { throw SignOffError(.malformedApprovers, "empty principals") }
        return .entry(Entry(
            principals: principalList, key: key, namespaces: options["namespaces"],
            validAfter: try options["valid-after"].map { try parseTime($0, option: "valid-after") },
            validBefore: try options["valid-before"].map { try parseTime($0, option: "valid-before") },
            line: number))
    }

    /// Splits at blanks outside double quotes, keeping the quotes.
    private static func tokens(_ line: String) throws -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        for character in line {
            if character == "\"" { quoted.toggle() }
            if !quoted, character == " " || character == "\t" {
                if !current.isEmpty { tokens.append(current); current = "" }
            } else {
                current.append(character)
            }
        }
        guard !quoted else { throw SignOffError(.malformedApprovers, "unterminated quote") }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    private static func unquoted(_ text: String) -> String {
        text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") ? String(text.dropFirst().dropLast()) : text
    }

    /// `cert-authority,namespaces="a,b",valid-after="20240101"`. Values must be quoted, as OpenSSH
    /// requires; an unknown option is an error rather than silently ignored.
    private static func parseOptions(_ field: String) throws -> [String: String] {
        var options: [String: String] = [:]
        var items: [String] = []
        var current = ""
        var quoted = false
        for character in field {
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted { items.append(current); current = "" } else { current.append(character) }
        }
        items.append(current)
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = parts[0].lowercased()
            switch (name, parts.count) {
            case ("cert-authority", 1):
                options[name] = ""
            case ("namespaces", 2), ("valid-after", 2), ("valid-before", 2):
                let value = parts[1]
                guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else {
                    throw SignOffError(.malformedApprovers, "option \(name) needs a quoted value, as in \(name)=\"…\"")
                }
                options[name] = String(value.dropFirst().dropLast())
            default:
                throw SignOffError(.malformedApprovers, "unknown option \"\(item)\" (expected namespaces=, valid-after=, valid-before= or cert-authority)")
            }
        }
        return options
    }

    /// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, in local time unless it ends in `Z` (UTC).
    private static func parseTime(_ text: String, option: String) throws -> Date {
        let utc = text.hasSuffix("Z") || text.hasSuffix("z")
        let digits = Array(utc ? text.dropLast() : Substring(text))
        guard [8, 12, 14].contains(digits.count), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            throw SignOffError(.malformedApprovers, "\(option)=\"\(text)\" is not YYYYMMDD[HHMM[SS]][Z]")
        }
        func number(_ from: Int, _ count: Int) -> Int { from + count <= digits.count ? Int(String(digits[from..<from + count]))! : 0 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        let components = DateComponents(year: number(0, 4), month: number(4, 2), day: number(6, 2),
                                        hour: number(8, 2), minute: number(10, 2), second: number(12, 2))
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else {
            throw SignOffError(.malformedApprovers, "\(option)=\"\(text)\" is not a valid date")
        }
        return date
    }
}
