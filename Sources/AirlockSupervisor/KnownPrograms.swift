import Glibc

/// The programs the exec rules name (`rm`, `git`, `terraform`…) as files: where the operator's PATH
/// finds them. An exec of a renamed copy or a hard link of one is classified as that program
/// (`cp /usr/bin/git g; ./g clean -fdx` is `git clean -fdx`): the same file (device and inode), or a
/// regular file of the same size and the same bytes.
///
/// A copy rewritten between this comparison and the kernel's exec is caught after the exec: the
/// file's identity includes its ctime (`ExecutableIdentity.FileID`), which every write changes. (On
/// kernels before multigrain timestamps, 6.13, a write within the same timer tick as the check can
/// leave the ctime as it was.)
public final class KnownPrograms {
    struct Program {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int64
    }

    private let names: [String]
    private let directories: [String]
    private var located: [Program]?
    /// Files compared by their bytes, by device, inode, size and ctime: each is read once. The value
    /// is the program's path, or empty for none.
    private var compared: [[Int64]: String] = [:]

    public init(names: [String], searchPath: String) {
        self.names = names
        var directories: [String] = []
        for directory in searchPath.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        where directory.hasPrefix("/") && !directories.contains(directory) {
            directories.append(directory)
        }
        self.directories = directories
    }

    /// Looks the programs up (each directory opened once, each name looked up in it); on first use
    /// if `locate()` was not called before.
    private var programs: [Program] {
        if let located { return located }
        var found: [Program] = []
        for directory in directories {
            let dir = open(directory, oPath | O_DIRECTORY | O_CLOEXEC)
            guard dir >= 0 else { continue }
            defer { close(dir) }
            for name in names where !name.contains("/") {
                var st = stat()
                guard fstatat(dir, name, &st, 0) == 0, st.st_mode & S_IFMT == S_IFREG,
                      !found.contains(where: { $0.device == UInt64(st.st_dev) && $0.inode == UInt64(st.st_ino) }) else { continue }
                found.append(Program(path: directory + "/" + name, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size)))
            }
        }
        located = found
        return found
    }

    /// Looks the programs up now: while the sandbox is being built, not at the agent's first exec.
    public func locate() { _ = programs }

    /// The path of the known program the open file `fd` is (an `O_PATH` fd is compared by identity
    /// only), or nil.
    func program(of fd: Int32) -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        if let same = programs.first(where: { $0.device == UInt64(st.st_dev) && $0.inode == UInt64(st.st_ino) }) {
            return same.path
        }
        let candidates = programs.filter { $0.size == Int64(st.st_size) }
        guard !candidates.isEmpty else { return nil }
        let key = [Int64(st.st_dev), Int64(st.st_ino), Int64(st.st_size), Int64(st.st_ctim.tv_sec), Int64(st.st_ctim.tv_nsec)]
        if let verdict = compared[key] { return verdict.isEmpty ? nil : verdict }
        let verdict = candidates.first { Self.sameBytes(fd, $0.path, size: Int(st.st_size)) }?.path
        compared[key] = verdict ?? ""
        return verdict
    }

    static func sameBytes(_ fd: Int32, _ path: String, size: Int) -> Bool {
        let other = open(path, O_RDONLY | O_CLOEXEC)
        guard other >= 0 else { return false }
        defer { close(other) }
        let chunk = 1 << 16
        var a = [UInt8](repeating: 0, count: chunk), b = [UInt8](repeating: 0, count: chunk)
        var offset = 0
        while offset < size {
            let want = min(chunk, size - offset)
            let x = a.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
            let y = b.withUnsafeMutableBytes { pread(other, $0.baseAddress, want, off_t(offset)) }
            guard x == want, y == want, a[..<want] == b[..<want] else { return false }
            offset += want
        }
        return true
    }
}
