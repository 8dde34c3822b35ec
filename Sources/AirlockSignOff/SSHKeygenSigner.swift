import Foundation

extension SSHSignature {
    /// Signs `message` in the `airlock` namespace by running `ssh-keygen -Y sign -n airlock -f KEYFILE`
    /// and returns the armored signature it prints.
    ///
    /// Going through ssh-keygen rather than reading the private key ourselves means passphrases,
    /// ssh-agent (pass the `.pub` file of an agent key) and FIDO keys all work, and the private key
    /// never enters an Airlock process. The message goes in on standard input, so no temporary file.
    /// Throws `signingFailed` with ssh-keygen's own error output when it fails.
    public static func sign(message: [UInt8], keyFile: String) throws -> String {
        // The message is written into the pipe before ssh-keygen starts, so we never write to a
        // pipe whose reader may have exited (SIGPIPE); a pipe holds at least 64 KiB.
        guard message.count <= 32 * 1024 else {
            throw SignOffError(.signingFailed, "message to sign is \(message.count) bytes; at most 32 KiB")
        }
        guard let keygen = findExecutable("ssh-keygen") else {
            throw SignOffError(.signingFailed, "ssh-keygen was not found in PATH; install OpenSSH (8.1 or later)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: keygen)
        process.arguments = ["-Y", "sign", "-n", airlockNamespace, "-f", keyFile]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input.fileHandleForReading
        process.standardOutput = output
        process.standardError = errors
        do {
            try input.fileHandleForWriting.write(contentsOf: Data(message))
            try input.fileHandleForWriting.close()
            try process.run()
            try input.fileHandleForReading.close()
        } catch {
            throw SignOffError(.signingFailed, "could not run \(keygen): \(error)")
        }
        // Drain stderr on another thread so neither pipe can fill up and stall ssh-keygen.
        let errorText = PipeDrain(errors.fileHandleForReading)
        let signature = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let stderr = errorText.wait()
            .split(separator: "\n")
            .filter { $0 != "Signing data on standard input" }
            .joined(separator: "\n")
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit
                ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            let detail = stderr.isEmpty ? "" : ": \(stderr)"
            throw SignOffError(.signingFailed, "ssh-keygen -Y sign -f \(keyFile) \(how)\(detail)")
        }
        guard signature.contains(armorBegin) else {
            throw SignOffError(.signingFailed, "ssh-keygen -Y sign printed no signature\(stderr.isEmpty ? "" : ": \(stderr)")")
        }
        return signature
    }

    private static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Reads a pipe to its end on a background thread.
private final class PipeDrain: @unchecked Sendable {
    private var text = ""
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        DispatchQueue.global().async {
            self.text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            self.done.signal()
        }
    }

    /// The text, once the writer has closed the pipe. The semaphore orders the write before the read.
    func wait() -> String {
        done.wait()
        return text
    }
}
