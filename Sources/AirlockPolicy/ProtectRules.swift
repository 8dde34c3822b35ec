/// A protect rule made concrete for one sandbox: its patterns absolute, ready to match the paths
/// the supervisor reads from the agent.
public struct ResolvedProtectRule: Sendable, Equatable {
    /// The rule's `name`, or its first pattern as written when it has none — something a person
    /// can recognise in a sign-off request.
    public var name: String
    public var globs: [PathGlob]
    public var operations: Set<FileOperation>
    public var action: ProtectAction

    /// Whether this rule could cover `operation` on some path whose last name is `lastName`: false
    /// means no directory the name may sit in matters. (Concrete: the supervisor asks it for every
    /// unlink of an `rm -rf`, and a generic call from another module is not specialised.)
    public func mayMatch(lastName: ArraySlice<UInt8>, operation: FileOperation) -> Bool {
        operations.contains(operation) && globs.contains { $0.mayMatch(lastName: lastName) }
    }

    /// Whether this rule covers `operation` on the resolved absolute `path`.
    public func matches(_ path: [UInt8], operation: FileOperation) -> Bool {
        operations.contains(operation) && globs.contains { $0.matches(path) }
    }
}

/// The profile's protect rules with their patterns made absolute: relative ones under
/// `workspace`, `~` and `~/…` under `home`, absolute ones as written. The workspace and home
/// directories are taken literally, so a `?` or `*` in their names is not a wildcard.
///
/// Pass the workspace and home as the kernel names them (resolved, no symlinks), because the
/// supervisor matches resolved paths. Throws only for patterns a loaded profile cannot contain
/// (the loader validates them), i.e. for a `Profile` built in code.
public func resolvedProtectRules(profile: Profile, workspace: [UInt8], home: [UInt8]) throws(ProfileError)
    -> [ResolvedProtectRule]
{
    try profile.protect.map { rule throws(ProfileError) in
        var globs: [PathGlob] = []
        for pattern in rule.paths {
            globs.append(try resolvedGlob(pattern, workspace: workspace, home: home))
        }
        return ResolvedProtectRule(
            name: rule.name ?? rule.paths.first ?? "", globs: globs, operations: rule.operations, action: rule.action)
    }
}

/// `resolvedProtectRules(profile:workspace:home:)` for directories held as Strings.
public func resolvedProtectRules(profile: Profile, workspace: String, home: String) throws(ProfileError)
    -> [ResolvedProtectRule]
{
    try resolvedProtectRules(profile: profile, workspace: Array(workspace.utf8), home: Array(home.utf8))
}

/// One pattern made absolute; also how the loader checks a pattern's syntax.
func resolvedGlob(_ pattern: String, workspace: [UInt8], home: [UInt8]) throws(ProfileError) -> PathGlob {
    if let problem = pathProblem(pattern) { throw ProfileError(file: "", message: problem) }
    let bytes = Array(pattern.utf8)
    if pattern == "~" { return try PathGlob(literalPrefix: home, relativePattern: []) }
    if pattern.hasPrefix("~/") { return try PathGlob(literalPrefix: home, relativePattern: Array(bytes.dropFirst(2))) }
    if pattern.hasPrefix("/") { return try PathGlob(bytes: bytes) }
    return try PathGlob(literalPrefix: workspace, relativePattern: bytes)
}

extension Array where Element == ResolvedProtectRule {
    /// The rule that decides `operation` on `path`: the first that matches, in profile order.
    ///
    /// Parent profiles' rules come first, so a profile that extends another cannot weaken its
    /// parent's rules with a later `allow`; within one file, put exceptions before the broad rule.
    public func firstMatch(_ path: [UInt8], operation: FileOperation) -> ResolvedProtectRule? {
        first { $0.matches(path, operation: operation) }
    }
}
