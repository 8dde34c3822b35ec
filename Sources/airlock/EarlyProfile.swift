import AirlockPolicy
import Foundation

/// `airlock run`'s profile, loaded on a second thread while argument-parser reads the command
/// line: each takes about 2 ms of a start that bubblewrap finishes in 5. The name is a first look
/// at the arguments (`--profile NAME`, `--profile=NAME`, else the default); argument-parser's
/// reading decides, and a load of any other name is simply not used. Nothing but time depends on
/// the guess: the same loader, environment and directory give the same profile or the same error.
final class EarlyProfile: @unchecked Sendable {
    /// Set once in `main`, before any other thread exists; read by `Run`.
    nonisolated(unsafe) static var current: EarlyProfile?

    let name: String
    private var result: Result<Profile, ProfileError>?
    private let done = DispatchSemaphore(value: 0)

    /// Starts loading the profile that `arguments` (those after `run`) most likely name.
    init(arguments: ArraySlice<String>) {
        var name = "default"
        var rest = arguments[...]
        while let argument = rest.popFirst(), argument != "--" {
            if argument == "--profile", let value = rest.popFirst() { name = value }
            if argument.hasPrefix("--profile=") { name = String(argument.dropFirst("--profile=".count)) }
        }
        self.name = name
        Thread.detachNewThread { [self] in
            result = Result { () throws(ProfileError) in try profileLoader().load(self.name) }
            done.signal()
        }
    }

    /// The profile `name` names: the early load's if it loaded that name, else a load now.
    static func load(_ name: String) throws(ProfileError) -> Profile {
        guard let early = current, early.name == name else { return try profileLoader().load(name) }
        early.done.wait()
        return try early.result!.get()
    }
}
