/// Where the proxy sends a connection the policy holds (`unknown = "hold"`): the sign-off desk at
/// which file operations and commands are held too, with its queue and approvers. `airlock run`
/// wires the supervisor's desk in; this module depends on no sign-off code.
public protocol ConnectionSignOff: Sendable {
    /// The request whose approval already lets `host:port` through in this sandbox, if one did:
    /// an approval counts for the sandbox's life.
    func approval(host: String, port: Int) -> String?

    /// Puts a held connection before the approvers: a new `connect` request, or the open one for
    /// the same host and port. `answered` is called exactly once, on any thread; until then the
    /// client waits unanswered.
    func hold(host: String, port: Int, rule: String,
              answered: @escaping @Sendable (ConnectionSignOffAnswer) -> Void) -> any ConnectionSignOffTicket
}

/// What the approvers (or the desk, for them) answered.
public enum ConnectionSignOffAnswer: Sendable, Equatable {
    /// The connection goes through.
    case approved(request: String)
    /// A 403 whose body is `message`: denied, expired, not approved within the wait, or nothing
    /// could be approved (a broken queue).
    case refused(request: String?, message: String)
}

/// A held connection's place at the desk.
public protocol ConnectionSignOffTicket: Sendable {
    /// The client went away (`reason` says how): its request is cancelled if nothing else waits on it.
    func cancel(reason: String)
}
