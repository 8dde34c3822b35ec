import AirlockPolicy
import Foundation

/// Profile text through the real loader: the bytes become a file (the loader's only entry point
/// reads files; that is also where the NUL and UTF-8 checks live) in a scratch directory, looked
/// up with `profiles/` as the search path, so `extends = "default"` builds on the shipped one.
public enum ProfileFuzz {
    static let loader = ProfileLoader(searchPaths: [FuzzPaths.profiles])
    static let file = FuzzPaths.scratch + "/input.toml"
    static let printed = FuzzPaths.scratch + "/printed.toml"

    /// The two scratch files are shared: Swift Testing replays the corpus in parallel.
    static let lock = NSLock()

    static func run(_ data: [UInt8]) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        writeFile(file, data)
        let profile: Profile
        do {
            profile = try loader.load(file)
        } catch {
            // Every failure must be a ProfileError naming the file (typed throws say so); a
            // message that names no file or no reason would leave the operator guessing.
            let text = "\(error)"
            return text.isEmpty ? ["a ProfileError with an empty description"] : []
        }
        var broken: [String] = []

        // Documented: toTOML() loads back to an equal profile (apart from name and sources).
        let toml = profile.toTOML()
        writeFile(printed, Array(toml.utf8))
        do {
            var again = try loader.load(printed)
            again.name = profile.name
            again.sources = profile.sources
            if again != profile {
                broken.append("toTOML() does not load back to an equal profile:\n\(toml)\n-- loads back as --\n\(again.toTOML())")
            }
        } catch {
            broken.append("toTOML() output does not load: \(error)\n\(toml)")
        }

        // A loaded profile must be usable: its protect rules resolve and its exec rules compile.
        do {
            let rules = try resolvedProtectRules(profile: profile, workspace: "/work/ws", home: "/home/agent")
            for rule in rules {
                _ = rule.matches(Array("/work/ws/.git".utf8), operation: .delete)
                _ = rule.matches(Array("/work/ws/a/prod.tfstate".utf8), operation: .write)
            }
            let classifier = ExecClassifier(profile: profile)
            let context = ExecContext(workspace: Array("/work/ws".utf8), cwd: Array("/work/ws".utf8),
                                      home: Array("/home/agent".utf8), protectedRules: rules)
            for line in [["rm", "-rf", "/work/ws"], ["terraform", "destroy"], ["sh", "-c", "git push --force"]] {
                _ = classifier.classify(argv: line.map { Array($0.utf8) }, environment: [], context: context)
            }
        } catch {
            broken.append("a loaded profile's protect rules do not resolve: \(error)")
        }
        return broken
    }
}
