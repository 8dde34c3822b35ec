import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `airlock` and `airlock-probe` executables under test, which SwiftPM builds into the same
/// directory as the test bundle (the target depends on both).
enum Binaries {
    /// The directory holding both, or why it could not be found.
    static let located: Result<String, HarnessError> = locate().flatMap(installed)

    static func directory() throws -> String { try located.get() }
    static func airlock() throws -> String { try directory() + "/airlock" }
    static func probe() throws -> String { try directory() + "/airlock-probe" }

    /// `AIRLOCK_E2E_BIN_DIR` if set, else the directory of the running test executable
    /// (/proc/self/exe), else that of argv[0], else the bundle's.
    private static func locate() -> Result<String, HarnessError> {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["AIRLOCK_E2E_BIN_DIR"] { candidates.append(dir) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent)
        }
        if let arg0 = CommandLine.arguments.first {
            let absolute = arg0.hasPrefix("/") ? arg0 : FileManager.default.currentDirectoryPath + "/" + arg0
            candidates.append(((absolute as NSString).deletingLastPathComponent as NSString).standardizingPath)
        }
        candidates.append(Bundle.main.bundleURL.path)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().path)
        // An .xctest bundle directory (some runners) lives next to the products too.
        candidates += candidates.filter { $0.hasSuffix(".xctest") }.map { ($0 as NSString).deletingLastPathComponent }
        for dir in candidates where isExecutable(dir + "/airlock") && isExecutable(dir + "/airlock-probe") {
            return .success(dir)
        }
        return .failure(HarnessError(
            "cannot find the airlock and airlock-probe executables; looked in: "
                + candidates.joined(separator: ", ") + " (set AIRLOCK_E2E_BIN_DIR to override)"))
    }

    /// Whether uid 65534 can reach and run both binaries (every directory above them must be
    /// searchable by others), or why not.
    static let usableByNobody: Result<Void, HarnessError> = {
        do {
            for path in [try airlock(), try probe()] {
                var dir = path
                while dir != "/" {
                    var st = stat()
                    guard stat(dir, &st) == 0 else { throw HarnessError("stat \(dir): \(String(cString: strerror(errno)))") }
                    let needed: mode_t = dir == path ? 0o005 : 0o001
                    if st.st_mode & needed != needed {
                        throw HarnessError(
                            "\(dir) (mode \(String(st.st_mode & 0o7777, radix: 8))) is not "
                                + (dir == path ? "readable and executable" : "searchable")
                                + " by others, so uid 65534 cannot run \(path); chmod o+rx it or build elsewhere")
                    }
                    dir = (dir as NSString).deletingLastPathComponent
                    if dir.isEmpty { break }
                }
            }
            return .success(())
        } catch let error as HarnessError {
            return .failure(error)
        } catch {
            return .failure(HarnessError("\(error)"))
        }
    }()

    /// Copies both binaries, with the profiles, to a fresh directory under /var/tmp laid out as an
    /// installation (bin/, share/airlock/profiles/): the build directory may be under /tmp (private
    /// inside the namespaces backend) or below a directory uid 65534 cannot search.
    private static func installed(_ buildDirectory: String) -> Result<String, HarnessError> {
        do {
            let root = try makeTemporaryDirectory(prefix: "airlock-e2e-bin-")
            installedRoot = root
            atexit { if let root = Binaries.installedRoot { removeTree(root) } }
            let fm = FileManager.default
            let bin = root + "/bin", profiles = root + "/share/airlock/profiles"
            try fm.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: profiles, withIntermediateDirectories: true)
            for name in ["airlock", "airlock-probe"] {
                try fm.copyItem(atPath: buildDirectory + "/" + name, toPath: bin + "/" + name)
                chmod(bin + "/" + name, 0o755)
            }
            var dir = buildDirectory
            while dir != "/" && !fm.fileExists(atPath: dir + "/Package.swift") { dir = (dir as NSString).deletingLastPathComponent }
            guard fm.fileExists(atPath: dir + "/profiles/default.toml") else {
                throw HarnessError("no profiles/ above \(buildDirectory)")
            }
            for file in try fm.contentsOfDirectory(atPath: dir + "/profiles") where file.hasSuffix(".toml") {
                try fm.copyItem(atPath: dir + "/profiles/" + file, toPath: profiles + "/" + file)
            }
            for path in [root, root + "/bin", root + "/share", root + "/share/airlock", profiles] { chmod(path, 0o755) }
            for file in try fm.contentsOfDirectory(atPath: profiles) { chmod(profiles + "/" + file, 0o644) }
            return .success(bin)
        } catch let error as HarnessError {
            return .failure(error)
        } catch {
            return .failure(HarnessError("installing the binaries for the tests: \(error)"))
        }
    }

    nonisolated(unsafe) static var installedRoot: String?

    private static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
