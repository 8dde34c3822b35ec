/// Why a profile could not be loaded, and where.
///
/// Every error names the file it comes from, so that a user with several profiles layered by
/// `extends` can go straight to the line at fault. TOMLKit does not report where keys are, so the
/// line is found by scanning the file's text (see `TOMLSourceMap`); it is omitted when unknown.
public struct ProfileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The profile file (or, when no file was found, the name that was asked for).
    public var file: String
    /// The 1-based line in `file`, when known.
    public var line: Int?
    /// The full dotted key at fault, such as `filesystem.hide`, when there is one.
    public var key: String?
    /// What is wrong, in words meant for the person editing the file.
    public var message: String

    public init(file: String, line: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// One line, `FILE:LINE: KEY: message`, leaving out the parts that are unknown — the shape
    /// compilers use, so editors and terminals make it clickable.
    public var description: String {
        var location = file
        if let line { location += location.isEmpty ? "line \(line)" : ":\(line)" }
        let parts = [location, key ?? ""].filter { !$0.isEmpty } + [message]
        return parts.joined(separator: ": ")
    }
}
