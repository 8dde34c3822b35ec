import Foundation

/// The fuzz targets. Each takes arbitrary bytes, must never crash on them, and returns the
/// invariants the input broke (empty when none): `airlock-fuzz` built with libFuzzer aborts on a
/// non-empty answer, so libFuzzer saves the input; the regression test expects it empty.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Profile TOML text → `ProfileLoader.load` (errors must be thrown, never crash); a profile
    /// that loads must survive `toTOML()` and load back equal, and compile into a classifier.
    case profile
    /// Queue file bytes → `QueueReader.parse` (whole and in two pieces) → `QueueState.fold`;
    /// the same bytes with `seq`/`prev` re-chained, so mutations reach the fold with a sound chain.
    case queue
    /// Bytes as armored SSHSIG text, as a raw SSHSIG blob, as an allowed_signers file and as
    /// public-key lines.
    case sshsig
    /// Bytes split on NUL into argv, then (after an empty field) environment entries → the exec
    /// classifier with the default profile's `[[exec]]` catalogue.
    case exec

    /// Runs one input; returns the broken invariants.
    public func run(_ data: [UInt8]) -> [String] {
        switch self {
        case .profile: ProfileFuzz.run(data)
        case .queue: QueueFuzz.run(data)
        case .sshsig: SSHSigFuzz.run(data)
        case .exec: ExecFuzz.run(data)
        }
    }
}

/// Where the fuzzers find the repository (for `profiles/`): `$AIRLOCK_FUZZ_ROOT`, else the
/// checkout this file was compiled from.
public enum FuzzPaths {
    public static let root: String = {
        if let root = ProcessInfo.processInfo.environment["AIRLOCK_FUZZ_ROOT"], !root.isEmpty { return root }
        // …/Tests/Fuzz/AirlockFuzz/FuzzTarget.swift → four levels up.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }()

    public static var profiles: String { root + "/profiles" }
    public static var corpus: String { root + "/Tests/Fuzz/Corpus" }
    public static var regressions: String { root + "/Tests/Fuzz/Regressions" }

    /// A private scratch directory for this process (profile files are written here).
    static let scratch: String = {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/airlock-fuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("airlock-fuzz: mkdtemp in \(base) failed") }
        let path = String(cString: made)
        return path
    }()

    /// Every file of `directory` (not recursive), sorted; empty when it does not exist.
    public static func files(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().map { directory + "/" + $0 }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && !path.hasSuffix("/README.md")
        }
    }
}

/// Writes `bytes` to `path` (truncating); aborts if it cannot, which is the harness's fault.
func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("airlock-fuzz: cannot write \(path): errno \(errno)") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        guard n > 0 else { fatalError("airlock-fuzz: write to \(path) failed: errno \(errno)") }
        done += n
    }
}
