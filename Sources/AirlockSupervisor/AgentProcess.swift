import CAirlockShim
import Glibc
import SystemPackage

/// A sandboxed thread that is blocked in a notified call, as the supervisor sees it: its memory (read,
/// then validated against the notification), its root, cwd and fds through /proc.
struct AgentProcess {
    let pid: Int32
    let listener: Int32
    let notification: UInt64

    /// Why a call's arguments could not be taken as the kernel would take them; the call is denied.
    enum ReadError: Error, CustomStringConvertible {
        case failed(Errno), gone, tooLong
        /// The path leads through a magic link that is not the agent's own (/proc/1/root/…), or its
        /// symlinks loop (openat2 says ELOOP for both): where it ends cannot be told.
        case magicLink

        var description: String {
            switch self {
            case .failed(let e): "its memory could not be read (\(e))"
            case .gone: "the call went away while it was read"
            case .tooLong: "an argument is longer than the supervisor reads"
            case .magicLink: "its path leads through a /proc link not the agent's own, or its symlinks loop"
            }
        }
    }

    /// Whether the notification is still pending: after it, what was read is what the blocked call
    /// passed (the thread cannot have moved on and had its memory reused by another call).
    func stillWaiting() -> Bool { airlock_notif_id_valid(listener, notification) == 0 }

    /// Reads a NUL-terminated string from the agent, page by page (a read must not cross into an
    /// unmapped page). A failed, partial or unterminated read is an error: the caller denies.
    /// `validate`: check the notification is still pending afterwards (a caller reading several
    /// strings checks once, after the last).
    func readCString(at address: UInt64, limit: Int = 4096, validate: Bool = true) throws(ReadError) -> [UInt8] {
        var result: [UInt8] = []
        var cursor = address
        while result.count <= limit {
            // Most paths are short: read up to 256 bytes first, never across a page boundary.
            let chunk = Int(min(result.isEmpty ? 256 : 4096, 4096 - cursor % 4096))
            var buffer = [UInt8](repeating: 0, count: chunk)
            let n = buffer.withUnsafeMutableBytes { airlock_read_memory(pid, cursor, $0.baseAddress, chunk) }
            guard n > 0 else { throw .failed(Errno(rawValue: Int32(-n))) }
            if let end = buffer[..<n].firstIndex(of: 0) {
                result += buffer[..<end]
                guard !validate || stillWaiting() else { throw .gone }
                return result
            }
            guard n == chunk else { throw .failed(.ioError) }
            result += buffer
            cursor += UInt64(n)
        }
        throw .tooLong
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp), each string as bytes.
    ///
    /// Every exec asks for argv and envp (dozens of strings): the pointers are read up to 64 at a
    /// time, and the first 256 bytes of every string in as few ranges as cover them, each piece
    /// within a page. A string longer than its piece, or a piece that could not be read, is read
    /// on its own.
    func readStringArray(at address: UInt64, maxCount: Int = 4096, maxBytes: Int = 1 << 20) throws(ReadError) -> [[UInt8]] {
        if address == 0 { return [] }
        var pointers: [UInt64] = []
        var cursor = address
        pointers: while true {
            // Whole pointers up to the page's end (a misaligned array's straddling one on its own).
            let bytes = max(8, min(512, Int(4096 - cursor % 4096)) / 8 * 8)
            var chunk = [UInt64](repeating: 0, count: bytes / 8)
            let n = chunk.withUnsafeMutableBytes { airlock_read_memory(pid, cursor, $0.baseAddress, bytes) }
            guard n == bytes else { throw .failed(n < 0 ? Errno(rawValue: Int32(-n)) : .ioError) }
            for pointer in chunk {
                if pointer == 0 { break pointers }
                guard pointers.count < maxCount else { throw .tooLong }
                pointers.append(pointer)
            }
            cursor += UInt64(bytes)
        }
        // The first 256 bytes of each string (never across a page), read as few ranges as cover
        // them: a process's strings lie side by side, and each range read costs a walk of its
        // pages in the kernel. Ranges are merged only where pieces overlap or touch, so nothing
        // is read that was not asked for (no page that might be unmapped).
        let lengths = pointers.map { Int(min(256, 4096 - $0 % 4096)) }
        let order = pointers.indices.sorted { pointers[$0] < pointers[$1] }
        var ranges: [(start: UInt64, end: UInt64)] = []
        var rangeOf = [Int](repeating: 0, count: pointers.count)
        for i in order {
            let (start, end) = (pointers[i], pointers[i] + UInt64(lengths[i]))
            if let last = ranges.last, start <= last.end {
                ranges[ranges.count - 1].end = max(last.end, end)
            } else {
                ranges.append((start, end))
            }
            rangeOf[i] = ranges.count - 1
        }
        var offsets: [Int] = [] // where each range starts in `buffer`
        offsets.reserveCapacity(ranges.count)
        var size = 0
        for r in ranges {
            offsets.append(size)
            size += Int(r.end - r.start)
        }
        var buffer = [UInt8](repeating: 0, count: size)
        var readRanges = [Bool](repeating: false, count: ranges.count)
        var first = 0
        while first < ranges.count {
            let batch = first..<min(first + Int(AIRLOCK_READ_PIECES_MAX), ranges.count)
            let addresses = batch.map { ranges[$0].start }
            let sizes = batch.map { Int(ranges[$0].end - ranges[$0].start) }
            let n = addresses.withUnsafeBufferPointer { a in
                sizes.withUnsafeBufferPointer { l in
                    buffer.withUnsafeMutableBytes {
                        airlock_read_memory_pieces(pid, a.baseAddress, l.baseAddress, a.count, $0.baseAddress! + offsets[batch.lowerBound])
                    }
                }
            }
            // A short read (a page gone meanwhile) leaves the rest of the batch to be read string by string.
            var covered = 0
            for (index, length) in zip(batch, sizes) {
                covered += length
                readRanges[index] = n >= covered
            }
            first = batch.upperBound
        }
        var strings: [[UInt8]] = []
        strings.reserveCapacity(pointers.count)
        var total = 0
        for (i, pointer) in pointers.enumerated() {
            let range = rangeOf[i], length = lengths[i]
            var s: [UInt8]
            if readRanges[range] {
                let offset = offsets[range] + Int(pointer - ranges[range].start)
                let piece = buffer[offset..<(offset + length)]
                if let end = piece.firstIndex(of: 0) {
                    s = Array(buffer[offset..<end])
                } else {
                    s = Array(piece) + (try readCString(at: pointer + UInt64(length), limit: 128 * 1024 - length, validate: false))
                }
            } else {
                s = try readCString(at: pointer, limit: 128 * 1024, validate: false)
            }
            total += s.count
            if total > maxBytes { throw .tooLong }
            strings.append(s)
        }
        guard stillWaiting() else { throw .gone }
        return strings
    }

    /// The calling thread's own pid and its process's, as they are named in its pid namespace (the
    /// last field of NSpid and NStgid in /proc/TID/status).
    func namespacePids() -> [String] {
        guard let status = readSmallFile("/proc/\(pid)/status") else { return [] }
        return status.split(separator: UInt8(ascii: "\n")).compactMap { line -> String? in
            guard line.starts(with: Array("NSpid:".utf8)) || line.starts(with: Array("NStgid:".utf8)) else { return nil }
            return line.split(whereSeparator: { $0 == 9 || $0 == 32 }).last.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// The agent's view of a /proc link of its own (cwd, fd/N, exe): the path as it sees it.
    func link(_ name: String) -> [UInt8]? {
        readLink("/proc/\(pid)/\(name)")
    }

    /// The parent process id and start time (field 22 of /proc/PID/stat), which together name a
    /// process across pid reuse.
    static func parentAndStart(_ pid: Int32) -> (ppid: Int32, start: UInt64)? {
        guard let stat = readSmallFile("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19,
              let ppid = Int32(String(decoding: fields[1], as: UTF8.self)),
              let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        return (ppid, start)
    }

    /// The umask the agent's thread runs with (for files the supervisor creates on its behalf).
    func umask() -> UInt32 {
        guard let status = readSmallFile("/proc/\(pid)/status") else { return 0o022 }
        for line in status.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("Umask:".utf8)) {
            let digits = line.dropFirst(6).filter { $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: " ") }
            return UInt32(String(decoding: digits, as: UTF8.self), radix: 8) ?? 0o022
        }
        return 0o022
    }
}

func readLink(_ path: String) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 4097)
    let n = buffer.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4096) }
    return n < 0 ? nil : Array(buffer[..<n])
}

func readSmallFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 8192)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    return n < 0 ? nil : Array(buffer[..<n])
}

extension Array where Element == UInt8 {
    /// For C calls: the bytes with a terminating NUL (paths are bytes, never repaired Strings).
    func withCPath<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        (self + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    /// Lossless display: UTF-8 as is, other bytes as \xNN.
    var shown: String {
        if let s = String(validating: self, as: UTF8.self), !s.unicodeScalars.contains(where: { $0.value < 0x20 }) { return s }
        return map { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16).leftPadded }.joined()
    }
}

private extension String {
    var leftPadded: String { count < 2 ? "0" + self : self }
}
