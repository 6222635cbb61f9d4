import CUV
import Foundation
import SystemSupport

/// A listening TCP or Unix socket on the loop thread. Accepted streams are handed to `onAccept`.
final class Listener {
    let endpoint: Endpoint
    /// The address actually bound (a TCP port 0 resolved to the kernel's choice).
    private(set) var boundEndpoint: Endpoint
    let requiresToken: Bool
    private let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_stream_t>
    private let onAccept: (UnsafeMutablePointer<uv_stream_t>, TransportKind, String) -> Void
    private var selfReference: Unmanaged<Listener>?

    /// Binds and listens; call on the loop thread.
    init(endpoint: Endpoint, requiresToken: Bool, loop: EventLoop,
         onAccept: @escaping (UnsafeMutablePointer<uv_stream_t>, TransportKind, String) -> Void) throws {
        self.endpoint = endpoint
        self.boundEndpoint = endpoint
        self.requiresToken = requiresToken
        self.loop = loop
        self.onAccept = onAccept
        switch endpoint {
        case .tcp(let host, _):
            let tcp = allocateHandle(uv_tcp_t.self)
            uv_tcp_init(loop.raw, tcp)
            handle = asStream(tcp)
            var address = try endpoint.socketAddress()
            let status = withUnsafePointer(to: &address) {
                uv_tcp_bind(tcp, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), 0)
            }
            if status != 0 { Self.discard(handle); throw UVError(status, "bind \(endpoint)") }
            if let port = StreamHandles.localPort(ofTCP: tcp) { boundEndpoint = .tcp(host: host, port: port) }
        case .unix(let path):
            try Self.removeStaleSocket(at: path)
            let pipe = allocateHandle(uv_pipe_t.self)
            uv_pipe_init(loop.raw, pipe, 0)
            handle = asStream(pipe)
            let status = uv_pipe_bind(pipe, path)
            if status != 0 { Self.discard(handle); throw UVError(status, "bind \(endpoint)") }
            // Before listen(): nobody can connect to a socket that is not listening, so there is no window in
            // which the socket is reachable with the umask's looser mode.
            if chmod(path, 0o600) != 0 {
                let code = errno
                Self.discard(handle)
                unlink(path)
                throw UVError(-code, "chmod 0600 \(path)")
            }
        }
        let reference = Unmanaged.passRetained(self)
        selfReference = reference
        handle.pointee.data = reference.toOpaque()
        let status = uv_listen(handle, 128) { server, status in
            guard let server, let data = server.pointee.data else { return }
            Unmanaged<Listener>.fromOpaque(data).takeUnretainedValue().accept(status: status)
        }
        if status != 0 {
            close()
            throw UVError(status, "listen \(endpoint)")
        }
    }

    private func accept(status: Int32) {
        guard status == 0 else { return }
        let client: UnsafeMutablePointer<uv_stream_t>
        let transport: TransportKind
        let peer: String
        switch endpoint {
        case .tcp:
            let tcp = allocateHandle(uv_tcp_t.self)
            uv_tcp_init(loop.raw, tcp)
            client = asStream(tcp)
            transport = .tcp
            guard uv_accept(handle, client) == 0 else { Self.discard(client); return }
            uv_tcp_nodelay(tcp, 1)
            peer = StreamHandles.peerName(ofTCP: tcp)
        case .unix(let path):
            let pipe = allocateHandle(uv_pipe_t.self)
            uv_pipe_init(loop.raw, pipe, 0)
            client = asStream(pipe)
            transport = .unix
            guard uv_accept(handle, client) == 0 else { Self.discard(client); return }
            peer = path
        }
        onAccept(client, transport, peer)
    }

    /// Stops listening; a Unix socket's file is removed so the next start finds no stale socket.
    func close() {
        guard let reference = selfReference else { return }
        selfReference = nil
        if case .unix(let path) = endpoint { unlink(path) }
        handle.pointee.data = reference.toOpaque()
        uv_close(asHandle(handle)) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            freeHandle(handle)
            Unmanaged<Listener>.fromOpaque(data).release()
        }
    }

    private static func discard(_ handle: UnsafeMutablePointer<uv_stream_t>) {
        closeAndFree(handle)
    }

    /// A socket file left by a process that died is removed; a live one (something accepts connections) or a
    /// file that is not a socket is an error, never deleted.
    static func removeStaleSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw EndpointError(text: "unix:\(path)", reason: "the path exists and is not a socket; refusing to replace it")
        }
        if socketAcceptsConnections(path) {
            throw EndpointError(text: "unix:\(path)", reason: "another process is already serving this socket")
        }
        unlink(path)
    }

    private static func socketAcceptsConnections(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let status = withUnsafePointer(to: &address) {
            connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_un>.size))
        }
        return status == 0
    }
}
