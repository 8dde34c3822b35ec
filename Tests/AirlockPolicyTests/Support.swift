import Foundation

@testable import AirlockPolicy

/// A scratch directory of profile files, removed when the test that made it ends.
final class ProfileDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "airlock-policy-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` (which may contain directories) and returns the file's path.
    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        write(name, bytes: Array(text.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) -> String {
        let file = path + "/" + name
        try! FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        return file
    }

    /// A loader that searches only this directory.
    var loader: ProfileLoader { ProfileLoader(searchPaths: [path]) }
}

/// The shipped profiles/ directory of this checkout.
let shippedProfilesDirectory: String = {
    let testFile = URL(fileURLWithPath: #filePath)
    return testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("profiles").path
}()

let shippedLoader = ProfileLoader(searchPaths: [shippedProfilesDirectory])
let shippedProfileNames = ["default", "strict", "container", "solo", "claude-code", "codex"]

/// Loads `text` as a profile file on its own and returns the error it must cause.
func loadError(_ text: String) -> ProfileError? {
    let dir = ProfileDirectory()
    let file = dir.write("p.toml", text)
    do {
        _ = try dir.loader.load(file)
        return nil
    } catch {
        return error
    }
}
