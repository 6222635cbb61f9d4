import CUV
import Foundation

/// Opening uv streams over existing file descriptors and sockets: the pieces the server's stdio mode, its
/// listeners and the client share.
enum StreamHandles {
    /// A readable or writable uv stream over an inherited descriptor (stdin/stdout, a pipe, a socketpair, a tty).
    /// Regular files are refused: libuv cannot poll them, and a daemon reading a file as a stream would spin.
    static func open(fileDescriptor fd: Int32, on loop: EventLoop) throws -> UnsafeMutablePointer<uv_stream_t> {
        switch uv_guess_handle(fd) {
        case UV_TTY:
            let tty = allocateHandle(UV_TTY, as: uv_tty_t.self)
            let status = uv_tty_init(loop.raw, tty, fd, 0)
            guard status == 0 else {
                UnsafeMutableRawPointer(tty).deallocate()
                throw UVError(status, "uv_tty_init(fd \(fd))")
            }
            return streamPointer(tty)
        case UV_NAMED_PIPE, UV_TCP, UV_UDP:
            let pipe = allocateHandle(UV_NAMED_PIPE, as: uv_pipe_t.self)
            uv_pipe_init(loop.raw, pipe, 0)
            let status = uv_pipe_open(pipe, fd)
            guard status == 0 else {
                uv_close(handlePointer(pipe)) { UnsafeMutableRawPointer($0)?.deallocate() }
                throw UVError(status, "uv_pipe_open(fd \(fd))")
            }
            return streamPointer(pipe)
        case UV_FILE:
            throw UVError(UV_EINVAL.rawValue, "fd \(fd) is a regular file, not a pipe, socket or terminal; stdio mode")
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
    private let handle = allocateHandle(UV_TIMER, as: uv_timer_t.self)
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
        uv_close(handlePointer(handle)) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            UnsafeMutableRawPointer(handle).deallocate()
            Unmanaged<LoopTimer>.fromOpaque(data).release()
        }
        selfReference = nil
    }
}
