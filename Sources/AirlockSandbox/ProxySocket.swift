import Glibc
import SystemPackage

/// The proxy's listening socket for the Landlock-only backend, made by airlock itself: with no network
/// namespace the agent shares the host's loopback, and Landlock lets it connect to this port alone.
enum ProxySocket {
    /// A TCP socket listening on the host's 127.0.0.1, on a port the kernel picks (close-on-exec,
    /// backlog 1024), and that port.
    static func listenOnHostLoopback() throws(SandboxError) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SandboxError("creating the proxy's socket: socket: \(Errno(errno))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let reason = Errno(errno)
            close(fd)
            throw SandboxError("creating the proxy's socket on 127.0.0.1: \(reason)")
        }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            let reason = Errno(errno)
            close(fd)
            throw SandboxError("creating the proxy's socket: getsockname: \(reason)")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
