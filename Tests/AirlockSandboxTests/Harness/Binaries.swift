import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `airlock` and `airlock-probe` executables under test, which SwiftPM builds into the same
/// directory as the test bundle (the target depends on both).
enum Binaries {
    /// The directory holding both, or why it could not be found.
    static let located: Result<String, HarnessError> = locate()

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

    private static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
