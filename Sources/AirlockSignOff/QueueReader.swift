import Crypto
import Foundation

/// Where the chain of a queue file first breaks, and why. Any break other than a torn last line
/// means the file was edited: `airlock queue verify` fails naming the line, and no approval counts.
public struct ChainBreak: Equatable, Sendable, CustomStringConvertible {
    /// 1-based line number in the file.
    public let line: Int
    public let reason: String

    public var description: String { "line \(line): \(reason)" }

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }
}

/// Something worth telling the operator that does not break the chain (a torn last line, a line
/// whose event this version cannot read).
public struct QueueWarning: Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public var description: String { "line \(line): \(message)" }
}

/// Where reading a queue file stopped: just after its last committed line (a torn last line is
/// left for the next read), with what the next line must chain to. Lets a reader that stays (the
/// supervisor) read only what was appended since.
public struct QueueTail: Sendable, Equatable {
    /// Byte offset in the file where the next read starts.
    public var offset: Int
    public var seq: UInt64
    public var hash: String
    public var line: Int
    /// Marked torn lines read since the last committed line (the next line's `torn` covers them).
    var skipped: [UInt8]

    /// The start of a file.
    public static let start = QueueTail(offset: 0, seq: 0, hash: QueueLine.zeroHash, line: 0, skipped: [])
}

/// A queue file as read: its events in order, the warnings, and whether its chain holds.
public struct QueueLog: Sendable {
    public let records: [QueueRecord]
    public let warnings: [QueueWarning]
    /// The first break in the chain, nil when every committed line chains to the one before.
    public let chainBreak: ChainBreak?
    /// Where the next incremental read continues.
    public var tail: QueueTail = .start

    public init(records: [QueueRecord], warnings: [QueueWarning], chainBreak: ChainBreak?, tail: QueueTail = .start) {
        self.records = records
        self.warnings = warnings
        self.chainBreak = chainBreak
        self.tail = tail
    }

    /// nil when the chain verifies; otherwise the first broken line and why.
    public func verify() -> ChainBreak? { chainBreak }
}

/// Reads a queue file and checks its chain.
public enum QueueReader {
    /// Reads the file at `path`. A missing file is an I/O error, not an empty queue.
    public static func read(_ path: String) throws -> QueueLog {
        parse(try FileIO.readAll(path))
    }

    /// What was appended to the file at `path` after `tail` (read from there, not from the start),
    /// and the bytes that were read. A file now shorter than `tail` was cut: nothing is read (the
    /// caller's check of what it read before says so).
    public static func readAppended(_ path: String, from tail: QueueTail) throws -> (log: QueueLog, bytes: [UInt8]) {
        try FileIO.closing(try FileIO.open(path, O_RDONLY)) { fd in
            let size = try FileIO.regularFileSize(fd, path: path)
            let bytes = size > tail.offset ? try FileIO.read(fd, count: size - tail.offset, at: tail.offset, path: path) : []
            return (parse(bytes, from: tail), bytes) // what lands after the fstat is read next time
        }
    }

    /// Reads queue file bytes. Never throws: what cannot be read becomes a warning or a `ChainBreak`.
    ///
    /// A committed line is a newline-terminated line that is not marked torn; each must parse, have
    /// `seq` one more than the committed line before (1 for the first), `prev` the SHA-256 of that
    /// line's bytes (64 zeros for the first), and `torn` the SHA-256 of the marked torn lines between
    /// them (absent when there are none). A last line without a newline is torn: ignored with a
    /// warning.
    ///
    /// `chained: false` reads lines that are not consecutive (one request's lines, picked out of a
    /// chain that was checked as it was written): their events only, no chain check.
    public static func parse(_ bytes: [UInt8], from tail: QueueTail = .start, chained: Bool = true) -> QueueLog {
        var lines: [Range<Int>] = []  // each with its newline
        var start = 0
        while let newline = bytes[start...].firstIndex(of: QueueFile.newline) {
            lines.append(start..<newline + 1)
            start = newline + 1
        }
        // Hashing and parsing a line needs nothing from the others: spread it over the cores.
        let parsed = lines.parallelMap { ParsedLine(bytes[$0]) }

        var records: [QueueRecord] = []
        records.reserveCapacity(parsed.count)
        var warnings: [QueueWarning] = []
        var chainBreak: ChainBreak?
        func broken(_ line: Int, _ reason: String) {
            if chainBreak == nil { chainBreak = ChainBreak(line: line, reason: reason) }
        }
        var lastSeq = tail.seq
        var lastHash = tail.hash
        var lastLine = tail.line
        var skipped = tail.skipped

        for (index, line) in parsed.enumerated() {
            let number = tail.line + index + 1
            if line.isMarkedTorn {
                warnings.append(QueueWarning(line: number, message: "torn line, closed by a later writer, ignored"))
                skipped += bytes[lines[index]]
                continue
            }
            defer {
                lastHash = line.hash
                lastLine = number
                skipped = []
            }
            guard case .success(let envelope) = line.envelope else {
                if case .failure(let why) = line.envelope { broken(number, "not a queue line (\(why))") }
                continue
            }
            if chained && envelope.seq != lastSeq &+ 1 {
                broken(number, "seq is \(envelope.seq), expected \(lastSeq &+ 1)")
            }
            if chained && envelope.prev != lastHash {
                broken(number, lastLine == 0
                    ? "prev is not 64 zeros, yet no line comes before it: lines before it were removed"
                    : "prev does not match the SHA-256 of line \(lastLine): line \(lastLine) or this line was changed, or lines between them were removed")
            }
            let expectedTorn = skipped.isEmpty ? nil : Hex.encode(SHA256.hash(data: skipped))
            if chained && envelope.torn != expectedTorn {
                broken(number, expectedTorn == nil ? "names torn lines that are not there" : "torn lines before it do not match its torn field")
            }
            lastSeq = envelope.seq
            switch line.event {
            case .success(let event):
                records.append(QueueRecord(seq: envelope.seq, ts: envelope.ts, prev: envelope.prev, torn: envelope.torn,
                                           event: event, hash: line.hash, line: number))
            case .failure(let why):
                warnings.append(QueueWarning(line: number, message: "\(why); event ignored"))
            }
        }
        if start < bytes.count {
            warnings.append(QueueWarning(line: tail.line + lines.count + 1, message: "torn last line (no newline, \(bytes.count - start) bytes) ignored"))
        } else if !skipped.isEmpty {
            // Marked torn lines with no committed line after them: a writer was cut off right after
            // closing a torn line. Nothing was committed, so nothing is broken.
            warnings.append(QueueWarning(line: tail.line + lines.count, message: "file ends with torn lines"))
        }
        let next = QueueTail(offset: tail.offset + start, seq: lastSeq, hash: lastHash,
                             line: tail.line + lines.count, skipped: skipped)
        return QueueLog(records: records, warnings: warnings, chainBreak: chainBreak, tail: next)
    }

    /// What can be learnt from one line on its own.
    private struct ParsedLine: Sendable {
        struct Envelope: Sendable {
            let seq: UInt64, ts: Date, prev: String, torn: String?
        }

        struct Reason: Error, CustomStringConvertible {
            let description: String
        }

        let isMarkedTorn: Bool
        /// SHA-256 hex of the line's bytes, newline included.
        let hash: String
        let envelope: Result<Envelope, Reason>
        let event: Result<QueueEvent, Reason>

        init(_ line: ArraySlice<UInt8>) {
            isMarkedTorn = QueueFile.isMarkedTorn(line)
            hash = line.withUnsafeBytes { Hex.encode(SHA256.hash(data: $0)) }
            guard !isMarkedTorn else {
                envelope = .failure(Reason(description: "torn"))
                event = .failure(Reason(description: "torn"))
                return
            }
            do {
                let wire = try QueueLine.parse(line.dropLast())
                let (seq, ts, prev, _) = try wire.envelope()
                envelope = .success(Envelope(seq: seq, ts: ts, prev: prev, torn: wire.torn))
                do {
                    event = .success(try wire.queueEvent())
                } catch {
                    event = .failure(Reason(description: QueueReader.describe(error)))
                }
            } catch {
                envelope = .failure(Reason(description: QueueReader.describe(error)))
                event = .failure(Reason(description: "no envelope"))
            }
        }
    }

    fileprivate static func describe(_ error: Error) -> String {
        if let error = error as? SignOffError { return error.message }
        return "invalid JSON: \(error)"
    }
}
