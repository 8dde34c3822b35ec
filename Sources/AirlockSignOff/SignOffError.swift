#if canImport(Glibc)
import Glibc
#endif

/// Why a sign-off operation failed: what kind of failure (`code`), in words (`message`), and the
/// errno behind it when a system call failed (`errno`).
public struct SignOffError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// An SSH public key could not be read.
        case malformedKey
        /// An SSHSIG signature could not be read (bad armor, bad base64, bad binary structure).
        case malformedSignature
        /// The key or signature uses an algorithm Airlock does not verify (RSA, DSA, P-384, …).
        case unsupportedAlgorithm
        /// The signature was made for another namespace than the one asked for.
        case namespaceMismatch
        /// The signature does not verify over the message with the key it names.
        case badSignature
        /// `ssh-keygen -Y sign` could not be run or failed.
        case signingFailed
        /// A line of an allowed_signers file could not be read.
        case malformedApprovers
        /// An operation or request is not well formed (wrong number of paths, bad id, …).
        case invalidOperation
        /// The queue file holds something the writer cannot append after.
        case malformedQueue
        /// A system call on a file failed; `errno` says why.
        case io
    }

    public var code: Code
    public var message: String
    public var errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let errno { text += " (\(String(cString: strerror(errno))), errno \(errno))" }
        return text
    }
}
