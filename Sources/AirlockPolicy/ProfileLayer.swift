/// The settings one profile file makes, before merging: a scalar is nil when the file leaves it
/// to its parent, so a child that is silent about `network` keeps its parent's `none`.
struct ProfileLayer {
    /// The parent's name or path.
    var extends: String?
    var summary: String?
    var backend: Backend?
    var network: NetworkMode?
    var networkAllow: [String] = []
    var networkDeny: [String] = []
    var networkUnknown: UnknownHostAction?
    var networkInspect: [String] = []
    var upstreamCA: [String] = []
    var forwardAsSigned: [UnresignableRequest] = []
    var allowUnconfined: Bool?
    var hostSockets: [HostSocket] = []
    var denyAction: DenyAction?
    var readWrite: [String] = []
    var readOnly: [String] = []
    var hide: [String] = []
    var envPass: [String] = []
    var envDrop: [String] = []
    var envSet: [String: String] = [:]
    var quorum: Int?
    var timeoutSeconds: Int?
    var grantWindowSeconds: Int?
    var wait: HoldWait?
    var approvers: String?
    var queue: String?
    var protect: [ProtectRule] = []
    var exec: [ExecRule] = []
    var api: [APIRule] = []
    /// The file's text, for the line of a key in an error found after decoding.
    var text = ""

    /// The line where `path` is written. Only errors ask, so the text is mapped only then.
    func line(of path: [TOMLSourceMap.Component]) -> Int? {
        TOMLSourceMap(text: text).line(of: path)
    }
}

extension Profile {
    /// Lays `layer` (a child) over this profile (its parent): scalars the child sets win, arrays
    /// concatenate parent-first without duplicates, `envSet` merges key-wise, protect, exec
    /// and api rules concatenate. A child can therefore add paths to hide but never un-hide its parent's — to
    /// loosen a profile, write one that does not extend it.
    mutating func apply(_ layer: ProfileLayer) {
        summary = layer.summary ?? summary
        backend = layer.backend ?? backend
        network = layer.network ?? network
        networkAllow = networkAllow.appendingUnique(layer.networkAllow)
        networkDeny = networkDeny.appendingUnique(layer.networkDeny)
        networkUnknown = layer.networkUnknown ?? networkUnknown
        networkInspect = networkInspect.appendingUnique(layer.networkInspect)
        upstreamCA = upstreamCA.appendingUnique(layer.upstreamCA)
        forwardAsSigned += layer.forwardAsSigned.filter { !forwardAsSigned.contains($0) }
        allowUnconfined = layer.allowUnconfined ?? allowUnconfined
        hostSockets += layer.hostSockets.filter { !hostSockets.contains($0) }
        denyAction = layer.denyAction ?? denyAction
        readWrite = readWrite.appendingUnique(layer.readWrite)
        readOnly = readOnly.appendingUnique(layer.readOnly)
        hide = hide.appendingUnique(layer.hide)
        envPass = envPass.appendingUnique(layer.envPass)
        envDrop = envDrop.appendingUnique(layer.envDrop)
        envSet.merge(layer.envSet) { _, child in child }
        quorum = layer.quorum ?? quorum
        timeoutSeconds = layer.timeoutSeconds ?? timeoutSeconds
        grantWindowSeconds = layer.grantWindowSeconds ?? grantWindowSeconds
        wait = layer.wait ?? wait
        approvers = layer.approvers ?? approvers
        queue = layer.queue ?? queue
        protect += layer.protect
        exec += layer.exec
        api += layer.api
    }
}

extension Array where Element == String {
    /// `self` followed by the elements of `more` not already present, first occurrence kept.
    func appendingUnique(_ more: [String]) -> [String] {
        var seen = Set(self)
        var result = self
        for item in more where seen.insert(item).inserted { result.append(item) }
        return result
    }
}
