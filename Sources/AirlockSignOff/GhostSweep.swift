import Foundation

/// The pending requests of sandboxes that ended without closing them, cancelled.
///
/// airlock cancels a sandbox's pending requests itself when the sandbox ends; one that was
/// SIGKILLed could not, and its requests would stay approvable with nobody left to carry them out.
/// A sweep finds them (their sandbox's lease is free, see `SandboxLiveness`) and appends a `cancel`
/// for each. Whoever reads the queue runs it first: `airlock queue list`, `queue show`,
/// `approve`, `deny` (not `airlock run`, which does not read a long queue at its start).
public struct GhostSweep: Sendable {
    /// The state with the swept requests cancelled, whether or not their cancels could be written:
    /// their sandbox has ended either way, and nothing is left to approve.
    public let state: QueueState
    /// The ids of the requests swept, in queue order.
    public let cancelled: [String]
    /// Why the cancels could not be appended (an approver without write access, a full disk), if
    /// they could not. Their sandboxes' lock files are then left for a later sweep to prove again.
    public let writeError: SignOffError?

    /// The reason a swept request's `cancel` line gives.
    public static func reason(sandbox: String) -> String {
        "airlock ended without closing it (sandbox \(sandbox))"
    }

    /// Sweeps `state`, folded from the queue at `queuePath`: every pending request whose sandbox is
    /// proved to have ended is cancelled in the file (`QueueFile.append`) and in the returned state.
    public static func sweep(queuePath: String, state: QueueState) -> GhostSweep {
        // Approved but not carried out is as much a ghost: nobody is left to carry it out for.
        // A change of the approvers belongs to no sandbox.
        let pending = state.order.compactMap { state.requests[$0] }
            .filter { ($0.state == .pending || $0.state == .approved) && $0.request.operation.kind != .approvers }
        let sandboxes = Set(pending.map(\.request.operation.sandbox))
        guard !sandboxes.isEmpty else { return GhostSweep(state: state, cancelled: [], writeError: nil) }
        var ghosts: [RequestState] = []
        var writeError: SignOffError?
        do {
            // Throwing out of `withEnded` leaves the lock files in place, so a sweep that can write
            // proves those sandboxes ended again later.
            try SandboxLiveness.withEnded(sandboxes, queuePath: queuePath) { ended in
                ghosts = pending.filter { ended.contains($0.request.operation.sandbox) }
                let queue = QueueFile(path: queuePath)
                for ghost in ghosts {
                    try queue.append(.cancel(id: ghost.id, reason: reason(sandbox: ghost.request.operation.sandbox)))
                }
            }
        } catch {
            writeError = error as? SignOffError ?? SignOffError(.io, "\(error)")
        }
        var requests = state.requests
        for ghost in ghosts {
            requests[ghost.id]?.state = .cancelled
            requests[ghost.id]?.cancelReason = reason(sandbox: ghost.request.operation.sandbox)
        }
        return GhostSweep(state: QueueState(requests: requests, order: state.order, audits: state.audits,
                                            chainBreak: state.chainBreak, warnings: state.warnings,
                                            approvers: state.approvers, approverChanges: state.approverChanges),
                          cancelled: ghosts.map(\.id), writeError: writeError)
    }
}
