import SystemPackage

/// Why airlock could not build or start a sandbox. The message is one line, names the path, flag or
/// step involved, and is printed as `airlock: <message>`.
public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The exit status `airlock run` uses for this failure (125 unless the command itself was bad).
    public var exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 125) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}

extension Errno {
    init(_ code: Int32) { self.init(rawValue: code) }
}
