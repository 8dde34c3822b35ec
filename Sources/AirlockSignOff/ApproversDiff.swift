/// What a proposed approvers list changes, as people read it: one line per key, `+` added, `-`
/// removed, `=` kept (a key whose principals or options change is removed and added).
public enum ApproversDiff {
    public static func lines(from current: AllowedSigners?, to proposed: String) -> [String] {
        let before = (current?.entries ?? []).map(describe)
        let after = ((try? AllowedSigners(text: proposed))?.entries ?? []).map(describe)
        return after.map { (before.contains($0) ? "= " : "+ ") + $0 } + before.filter { !after.contains($0) }.map { "- " + $0 }
    }

    /// `alice,alice@example.com ssh-ed25519 SHA256:… [namespaces="airlock"]`.
    static func describe(_ entry: AllowedSigners.Entry) -> String {
        var options: [String] = []
        if let namespaces = entry.namespaces { options.append("namespaces=\"\(namespaces)\"") }
        if let after = entry.validAfter { options.append("valid-after=\"\(RFC3339.format(after))\"") }
        if let before = entry.validBefore { options.append("valid-before=\"\(RFC3339.format(before))\"") }
        return ([entry.principals.joined(separator: ","), entry.key.algorithm.rawValue, entry.key.fingerprint] + options).joined(separator: " ")
    }
}
