extension Profile {
    /// The effective profile as a TOML document (for `airlock profile show`): every setting
    /// spelled out, defaults included, no `extends`. Loading it back gives an equal profile
    /// (apart from `name` and `sources`, which say where a profile came from).
    public func toTOML() -> String {
        var out = "# Effective profile \(quoted(name))"
        out += sources.isEmpty ? "\n" : ", merged from (base first):\n" + sources.map { "#   \($0)\n" }.joined()
        if let summary { out += "description = \(quoted(summary))\n" }

        out += "\n[sandbox]\n"
        out += "backend = \(quoted(backend.rawValue))\n"
        out += "network = \(quoted(network.rawValue))\n"
        out += "allow_unconfined = \(allowUnconfined)\n"
        out += "host_sockets = \(array(hostSockets.map(\.rawValue)))\n"

        out += "\n[network]\n"
        out += "allow = \(array(networkAllow))\n"
        out += "deny = \(array(networkDeny))\n"
        out += "unknown = \(quoted(networkUnknown.rawValue))\n"
        out += "inspect = \(array(networkInspect))\n"
        out += "upstream_ca = \(array(upstreamCA))\n"
        out += "forward_as_signed = \(array(forwardAsSigned.map(\.rawValue)))\n"

        out += "\n[seccomp]\n"
        out += "deny_action = \(quoted(denyAction.rawValue))\n"

        out += "\n[filesystem]\n"
        out += "read_write = \(array(readWrite))\n"
        out += "read_only = \(array(readOnly))\n"
        out += "hide = \(array(hide))\n"

        out += "\n[environment]\n"
        out += "pass = \(array(envPass))\n"
        out += "drop = \(array(envDrop))\n"
        if envSet.isEmpty {
            out += "set = {}\n"
        } else {
            out += "\n[environment.set]\n"
            for (name, value) in envSet.sorted(by: { $0.key < $1.key }) { out += "\(key(name)) = \(quoted(value))\n" }
        }

        out += "\n[signoff]\n"
        out += "quorum = \(quorum)\n"
        out += "timeout = \(quoted(Durations.format(timeoutSeconds)))\n"
        out += "wait = \(quoted(wait.description))\n"
        out += "grant_window = \(quoted(Durations.format(grantWindowSeconds)))\n"
        out += approvers.map { "approvers = \(quoted($0))\n" } ?? "# approvers: not set, Airlock's default applies\n"
        out += queue.map { "queue = \(quoted($0))\n" } ?? "# queue: not set, Airlock's default applies\n"

        for rule in protect {
            out += "\n[[protect]]\n"
            if let name = rule.name { out += "name = \(quoted(name))\n" }
            out += "paths = \(array(rule.paths))\n"
            out += "operations = \(array(rule.operations.sorted().map(\.rawValue)))\n"
            out += "action = \(quoted(rule.action.rawValue))\n"
        }
        for rule in exec {
            out += "\n[[exec]]\n"
            out += "name = \(quoted(rule.name))\n"
            out += "argv = \(array(rule.argv))\n"
            let lists = [("flags", rule.flags), ("all_flags", rule.allFlags), ("unless", rule.unless), ("args", rule.args),
                         ("targets", rule.targets.map(\.rawValue)), ("sql", rule.sql), ("env", rule.env)]
            for (key, items) in lists where !items.isEmpty { out += "\(key) = \(array(items))\n" }
            out += "action = \(quoted(rule.action.rawValue))\n"
        }
        for rule in api {
            out += "\n[[api]]\n"
            out += "name = \(quoted(rule.name))\n"
            let lists = [("provider", rule.provider), ("service", rule.service), ("operation", rule.operation),
                         ("resources", rule.resources), ("effects", rule.effects), ("unless_effects", rule.unlessEffects)]
            for (key, items) in lists where !items.isEmpty { out += "\(key) = \(array(items))\n" }
            out += "action = \(quoted(rule.action.rawValue))\n"
        }
        return out
    }
}

/// An array on one line, or one item per line when that would be long.
private func array(_ items: [String]) -> String {
    let oneLine = "[" + items.map(quoted).joined(separator: ", ") + "]"
    guard oneLine.count > 80 else { return oneLine }
    return "[\n" + items.map { "    \(quoted($0)),\n" }.joined() + "]"
}

private func key(_ k: String) -> String {
    let bare = !k.isEmpty && k.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
    return bare ? k : quoted(k)
}

/// A TOML basic string: quotes, backslashes and every control character escaped, so any Swift
/// String (a path with a newline in it, say) survives the round trip.
private func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16, uppercase: true)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
