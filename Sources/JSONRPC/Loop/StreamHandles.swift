import CUV
import Foundation
import SystemSupport

/// Opening uv streams over existing file descriptors and sockets: the pieces the server's stdio mode, its
/// listeners and the client share.
enum StreamHandles {
    /// A readable or writable uv stream over an inherited descriptor (stdin/stdout, a pipe, a socketpair, a tty).
    /// A regular file (`torl serve --stdio < requests > answers`) cannot be polled by libuv, so a relay thread
    /// copies between it and a pipe the loop can poll.
    static func open(fileDescriptor fd: Int32, on loop: EventLoop) throws -> UnsafeMutablePointer<uv_stream_t> {
        switch uv_guess_handle(fd) {
        case UV_FILE:
            return try open(fileDescriptor: FileRelay.start(file: fd), on: loop)
        case UV_TTY:
            let tty = allocateHandle(uv_tty_t.self)
            let status = uv_tty_init(loop.raw, tty, fd, 0)
            guard status == 0 else {
                freeHandle(tty)
                throw UVError(status, "uv_tty_init(fd \(fd))")
            }
            return asStream(tty)
        case UV_NAMED_PIPE, UV_TCP, UV_UDP:
            let pipe = allocateHandle(uv_pipe_t.self)
            uv_pipe_init(loop.raw, pipe, 0)
            let status = uv_pipe_open(pipe, fd)
            guard status == 0 else {
                closeAndFree(pipe)
                throw UVError(status, "uv_pipe_open(fd \(fd))")
            }
            return asStream(pipe)
        default:
            throw UVError(UV_EBADF.rawValue, "fd \(fd) is not an open stream; stdio mode")
        }
    }

    static func peerName(ofTCP handle: UnsafeMutablePointer<uv_tcp_t>) -> String {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutableBytes(of: &storage) { raw in
            uv_tcp_getpeername(handle, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard status == 0 else { return "tcp peer (unknown address)" }
        return describe(storage)
    }

    static func localPort(ofTCP handle: UnsafeMutablePointer<uv_tcp_t>) -> UInt16? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutableBytes(of: &storage) { raw in
            uv_tcp_getsockname(handle, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard status == 0 else { return nil }
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw -> UInt16 in
            if family == AF_INET6 {
                return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            }
            return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    private static func describe(_ storage: sockaddr_storage) -> String {
        var name = [CChar](repeating: 0, count: 64)
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw -> String in
            if family == AF_INET6 {
                var address = raw.load(as: sockaddr_in6.self)
                uv_ip6_name(&address, &name, name.count)
                return "[\(String(cString: name))]:\(UInt16(bigEndian: address.sin6_port))"
            }
            var address = raw.load(as: sockaddr_in.self)
            uv_ip4_name(&address, &name, name.count)
            return "\(String(cString: name)):\(UInt16(bigEndian: address.sin_port))"
        }
    }
}

/// A one-shot timer on the loop thread.
final class LoopTimer {
    private let handle = allocateHandle(uv_timer_t.self)
    private var action: (() -> Void)?
    private var selfReference: Unmanaged<LoopTimer>?

    /// Fires `action` once after `seconds` unless cancelled first. Call on the loop thread.
    init(loop: EventLoop, after seconds: Double, _ action: @escaping () -> Void) {
        self.action = action
        uv_timer_init(loop.raw, handle)
        let reference = Unmanaged.passRetained(self)
        selfReference = reference
        handle.pointee.data = reference.toOpaque()
        uv_timer_start(handle, { handle in
            guard let data = handle?.pointee.data else { return }
            let timer = Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue()
            let action = timer.action
            timer.cancel()
            action?()
        }, UInt64(max(0, seconds) * 1000), 0)
    }

    func cancel() {
        guard selfReference != nil else { return }
        action = nil
        uv_close(asHandle(handle)) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            freeHandle(handle)
            Unmanaged<LoopTimer>.fromOpaque(data).release()
        }
        selfReference = nil
    }
}

/// Copies between a regular file and one end of a pipe on a plain thread, for descriptors libuv cannot poll.
enum FileRelay {
    /// Returns the descriptor the loop should use in place of `file`. Whether the file is read or written follows
    /// its open mode: a read-only file is fed into the pipe, anything else is filled from it.
    static func start(file: Int32) throws -> Int32 {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw UVError(-errno, "pipe for relaying fd \(file)") }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let readsFromFile = (fcntl(file, F_GETFL) & O_ACCMODE) == O_RDONLY
        let (source, destination, loopEnd) = readsFromFile ? (file, writeEnd, readEnd) : (readEnd, file, writeEnd)
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            copying: while true {
                let count = read(source, &buffer, buffer.count)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                var offset = 0
                while offset < count {
                    let written = buffer[offset ..< count].withUnsafeBytes { write(destination, $0.baseAddress, $0.count) }
                    if written < 0, errno == EINTR { continue }
                    if written <= 0 { break copying }
                    offset += written
                }
            }
            close(readsFromFile ? destination : source)
        }
        thread.name = "torl.rpc.file-relay"
        thread.start()
        return loopEnd
    }
}
