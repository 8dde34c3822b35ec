import Dispatch
import Foundation

extension Collection where Index == Int, Element: Sendable {
    /// `map`, spread over the machine's cores in contiguous chunks; the results are in order.
    ///
    /// For the independent per-line and per-signature work of a queue replay. Each chunk writes
    /// only its own slots of the result buffer, so the writes never overlap.
    func parallelMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        let count = self.count
        let chunks = Swift.min(ProcessInfo.processInfo.activeProcessorCount, Swift.max(1, count / 256))
        guard chunks > 1 else { return map(transform) }
        let start = startIndex
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let results = UncheckedSendable(buffer)
            let elements = UncheckedSendable(self)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let lower = count * chunk / chunks, upper = count * (chunk + 1) / chunks
                for offset in lower..<upper {
                    (results.value.baseAddress! + offset).initialize(to: transform(elements.value[start + offset]))
                }
            }
            initialized = count
        }
    }
}

/// A value handed to concurrent chunks that touch disjoint parts of it.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
