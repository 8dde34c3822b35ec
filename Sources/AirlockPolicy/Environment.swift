/// Builds the agent's environment from the operator's.
public enum EnvironmentFilter {
    /// Drops every variable whose name matches a `profile.envDrop` glob, unless it matches
    /// `profile.envPass` or `extraPass` (exact names or globs), and every variable pointing at a
    /// host daemon's socket the profile does not expose (`SSH_AUTH_SOCK`, `DOCKER_HOST=unix://…`;
    /// see `HostSocket.variables`); then applies `profile.envSet`.
    ///
    /// Pass wins over drop so that a per-agent profile can let through the one token its agent
    /// needs (`ANTHROPIC_API_KEY`) while `*API_KEY*` keeps every other key out. It does not bring
    /// back a daemon's variable: the socket it names is hidden, and `host_sockets` is what gives it.
    /// Set comes last so what the profile says is what the agent sees.
    public static func filter(_ env: [String: String], profile: Profile, extraPass: [String]) -> [String: String] {
        let pass = profile.envPass + extraPass
        var result = env.filter { name, value in
            if let daemon = HostSocket.daemon(ofVariable: name, value: value), !profile.hostSockets.contains(daemon) {
                return false
            }
            return !matchesAny(name, profile.envDrop) || matchesAny(name, pass)
        }
        result.merge(profile.envSet) { _, set in set }
        return result
    }

    /// Whether `name` matches any of `patterns` (`*` any run of characters, `?` one byte).
    static func matchesAny(_ name: String, _ patterns: [String]) -> Bool {
        patterns.contains { wildcardMatches($0.utf8, name.utf8) }
    }
}
