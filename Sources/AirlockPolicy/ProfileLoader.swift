import Foundation
import TOMLKit

/// Finds profile files by name, reads them, follows `extends` and merges the chain.
public struct ProfileLoader: Sendable {
    /// The longest `extends` chain, counting the profile asked for: deep enough for any sensible
    /// layering, short enough that a mistake is reported rather than followed.
    public static let maximumDepth = 8

    /// Directories searched, in order, for `NAME.toml`.
    public var searchPaths: [String]

    public init(searchPaths: [String]) {
        self.searchPaths = searchPaths
    }

    /// Where profiles are looked for, in order:
    /// 1. the user's own, `$XDG_CONFIG_HOME/airlock/profiles` (default `~/.config/airlock/profiles`);
    /// 2. each directory of `$AIRLOCK_PROFILE_PATH` (colon-separated);
    /// 3. the installed ones, `<executable dir>/../share/airlock/profiles`;
    /// 4. in a source checkout (`.build/debug/airlock`), the `profiles/` next to `Package.swift`
    ///    in the nearest directory above the executable that has both.
    ///
    /// The user's directory comes first so that a user can replace a shipped profile by name; such
    /// a file may itself say `extends = "default"` to build on the shipped one (see `load`).
    public static func defaultSearchPaths(environment: [String: String], executablePath: String) -> [String] {
        var paths: [String] = []
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") {
            paths.append(normalised(config + "/airlock/profiles"))
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            paths.append(normalised(home + "/.config/airlock/profiles"))
        }
        for dir in (environment["AIRLOCK_PROFILE_PATH"] ?? "").split(separator: ":") {
            paths.append(normalised(String(dir)))
        }
        let exeDir = normalised(absolute(executablePath) + "/..")
        paths.append(normalised(exeDir + "/../share/airlock/profiles"))
        var dir = exeDir
        while true {
            if isFile(dir + "/Package.swift") && isDirectory(dir + "/profiles") {
                paths.append(normalised(dir + "/profiles"))
                break
            }
            if dir == "/" { break }
            dir = normalised(dir + "/..")
        }
        return [].appendingUnique(paths)
    }

    /// Loads the profile `nameOrPath` with everything it extends, merged.
    ///
    /// A string containing `/` or ending in `.toml` is a file path (relative to the current
    /// directory); anything else is a name looked up in `searchPaths`. `extends` works the same
    /// way, except that a relative path is relative to the file that says it, and that a name
    /// never resolves to the file that says it: a user's `default.toml` with
    /// `extends = "default"` builds on the next `default.toml` in the search path.
    public func load(_ nameOrPath: String) throws(ProfileError) -> Profile {
        var file = try locate(nameOrPath, from: nil)
        var chain: [String] = []
        var layers: [ProfileLayer] = []
        while true {
            chain.append(file)
            let layer = try Self.read(file)
            layers.append(layer)
            guard let parent = layer.extends else { break }
            let next = try locate(parent, from: (file, layer))
            func fail(_ message: String) -> ProfileError {
                ProfileError(file: file, line: layer.line(of: [.key("extends")]), key: "extends", message: message)
            }
            if let start = chain.firstIndex(of: next) {
                throw fail("extends cycle: " + (chain[start...] + [next]).joined(separator: " → "))
            }
            if chain.count == Self.maximumDepth {
                throw fail("extends chain is longer than \(Self.maximumDepth) profiles: " + (chain + [next]).joined(separator: " → "))
            }
            file = next
        }
        var profile = Profile(name: nameOrPath, sources: chain.reversed())
        for (layer, file) in zip(layers, chain).reversed() {
            // A rule cannot be replaced by a child (parents' rules decide first), so a reused
            // name would only show approvers two different rules under one name.
            let names = [("exec", layer.exec.map(\.name), profile.exec.map(\.name)), ("api", layer.api.map(\.name), profile.api.map(\.name))]
            for (table, own, inherited) in names {
                for (index, name) in own.enumerated() where inherited.contains(name) {
                    throw ProfileError(
                        file: file, line: layer.line(of: [.key(table), .index(index), .key("name")]), key: "\(table).name",
                        message: "an \(table) rule named \"\(name)\" is already defined by a profile this one extends; choose another name")
                }
            }
            profile.apply(layer)
        }
        return profile
    }

    /// The profiles that `load` finds by name, each with the file a name resolves to.
    public func availableProfiles() -> [(name: String, path: String)] {
        var found: [String: String] = [:]
        for dir in searchPaths {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for entry in names.sorted() where entry.hasSuffix(".toml") && isFile(dir + "/" + entry) {
                let name = String(entry.dropLast(".toml".count))
                if found[name] == nil { found[name] = normalised(dir + "/" + entry) }
            }
        }
        return found.sorted { $0.key < $1.key }.map { (name: $0.key, path: $0.value) }
    }

    /// The absolute path of the file `nameOrPath` means; `from` is the file naming it in an
    /// `extends` (and its layer), or nil for the profile asked for on the command line.
    private func locate(_ nameOrPath: String, from: (file: String, layer: ProfileLayer)?) throws(ProfileError) -> String {
        func fail(_ message: String) -> ProfileError {
            ProfileError(file: from?.file ?? nameOrPath, line: from?.layer.line(of: [.key("extends")]),
                         key: from == nil ? nil : "extends", message: message)
        }
        if let problem = pathProblem(nameOrPath) { throw fail(problem) }
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".toml") {
            let base = from.map { normalised($0.file + "/..") } ?? FileManager.default.currentDirectoryPath
            let home = ProcessInfo.processInfo.environment["HOME"] ?? "/"
            let path = expandPath(nameOrPath, home: home, relativeTo: base)
            guard isFile(path) else { throw fail("no profile file at \(path)") }
            return path
        }
        for dir in searchPaths {
            let candidate = normalised(absolute(dir) + "/" + nameOrPath + ".toml")
            if candidate != from?.file && isFile(candidate) { return candidate }
        }
        let looked = searchPaths.isEmpty ? "no search paths" : "looked in " + searchPaths.joined(separator: ", ")
        throw fail("no profile named \"\(nameOrPath)\" (\(looked))")
    }

    /// Reads and decodes one file, without following `extends`.
    static func read(_ file: String) throws(ProfileError) -> ProfileLayer {
        func fail(_ message: String, line: Int? = nil) -> ProfileError {
            ProfileError(file: file, line: line, message: message)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw fail("cannot read: \(error.localizedDescription)")
        }
        // TOMLKit takes the document as a C string: a NUL byte would silently end it early.
        if let nul = data.firstIndex(of: 0) {
            throw fail("contains a NUL byte", line: data[..<nul].count(where: { $0 == UInt8(ascii: "\n") }) + 1)
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw fail("is not valid UTF-8 (TOML files must be)")
        }
        let bytes = Array(data)
        if let line = TOMLAbortShapes.tableHeaderAbortLine(bytes) {
            throw fail("a table header must start with a key (a letter, digit, _, - or a quote)", line: line)
        }
        if let line = TOMLAbortShapes.arrayValueAbortLine(bytes) {
            throw fail("a \"}\" stands where an array value is expected", line: line)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw fail(error.description, line: error.source.begin.line)
        } catch {
            throw fail("\(error)")
        }
        // Only a text with `u0000` or `U00000000` in it can escape a NUL; the string scan decides.
        if contains(bytes, "u0000") || contains(bytes, "U00000000"),
           let line = TOMLSourceMap(text: text).nulEscapeLines.first {
            throw fail("a string contains an escaped NUL character, which no path, name or value may hold", line: line)
        }
        return try ProfileDecoder(file: file, directory: normalised(file + "/.."), text: text).decode(table)
    }
}

private func contains(_ bytes: [UInt8], _ needle: StaticString) -> Bool {
    let first = needle.utf8Start.pointee
    let count = needle.utf8CodeUnitCount
    return bytes.indices.contains { i in
        bytes[i] == first && i + count <= bytes.count
            && (0..<count).allSatisfy { bytes[i + $0] == needle.utf8Start[$0] }
    }
}

private func normalised(_ path: String) -> String {
    String(decoding: normalisePath(Array(path.utf8)), as: UTF8.self)
}

private func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

private func isFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
}

private func isDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
}
