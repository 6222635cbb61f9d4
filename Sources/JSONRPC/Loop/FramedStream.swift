import CUV
import Foundation
import SystemSupport

/// Why a framed stream closed; delivered once to its owner.
public enum StreamCloseReason: Sendable, Equatable, CustomStringConvertible {
    case peerClosed
    case closedLocally(String)
    case ioError(String)

    public var description: String {
        switch self {
        case .peerClosed: return "peer closed the connection"
        case .closedLocally(let why): return why
        case .ioError(let why): return "I/O error: \(why)"
        }
    }
}

public struct BackpressureLimits: Sendable, Equatable {
    /// Above this many unsent bytes the stream stops reading, so a client that does not read its answers cannot
    /// keep submitting work.
    public var pauseReadingAbove: Int
    /// Reading resumes once unsent bytes drop below this.
    public var resumeReadingBelow: Int
    /// A peer this far behind is not reading at all; the stream is closed rather than buffering without bound.
    public var closeAbove: Int

    public init(pauseReadingAbove: Int = 1 << 20, resumeReadingBelow: Int = 256 << 10, closeAbove: Int = 64 << 20) {
        self.pauseReadingAbove = pauseReadingAbove
        self.resumeReadingBelow = resumeReadingBelow
        self.closeAbove = closeAbove
    }
}

/// LSP-framed I/O over one libuv stream (a socket) or a pair (stdin/stdout, a child's pipes). Confined to the loop
/// thread: every method must be called there. Shared by the server's connections and the client.
final class FramedStream {
    private let loop: EventLoop
    private let input: UnsafeMutablePointer<uv_stream_t>
    private let output: UnsafeMutablePointer<uv_stream_t>
    private var decoder: FrameDecoder
    private let backpressure: BackpressureLimits
    private static let readChunkSize = 64 * 1024
    private let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: FramedStream.readChunkSize, alignment: 16)

    /// Called with each decoded event, then with at most one framing error (after which nothing more is read).
    var onEvent: (FrameEvent) -> Void = { _ in }
    var onFramingError: (FramingError) -> Void = { _ in }
    var onClose: (StreamCloseReason) -> Void = { _ in }
    /// When set, end of input only stops reading and calls this, leaving the output open: a stdio client that
    /// closes stdin after its last request still gets its answers. Otherwise end of input closes the stream.
    var onEndOfInput: (() -> Void)?

    private(set) var pendingWriteBytes = 0
    private var pendingWrites = 0
    private(set) var isClosed = false
    private var isReading = false
    private var readingPaused = false
    private var closeWhenFlushed: StreamCloseReason?
    private var openHandles = 0
    /// Keeps self alive while libuv holds pointers to it; released when the last handle's close callback runs.
    private var selfReference: Unmanaged<FramedStream>?

    /// Takes ownership of the handles (allocated with `allocateHandle`, already initialised on `loop`).
    init(loop: EventLoop, input: UnsafeMutablePointer<uv_stream_t>, output: UnsafeMutablePointer<uv_stream_t>,
         limits: FramingLimits, backpressure: BackpressureLimits) {
        self.loop = loop
        self.input = input
        self.output = output
        self.decoder = FrameDecoder(limits: limits)
        self.backpressure = backpressure
        let reference = Unmanaged.passRetained(self)
        selfReference = reference
        input.pointee.data = reference.toOpaque()
        output.pointee.data = reference.toOpaque()
        openHandles = input == output ? 1 : 2
    }

    deinit {
        readBuffer.deallocate()
    }

    private static func owner(of handle: UnsafeMutableRawPointer?) -> FramedStream? {
        guard let data = handle?.assumingMemoryBound(to: uv_handle_t.self).pointee.data else { return nil }
        return Unmanaged<FramedStream>.fromOpaque(data).takeUnretainedValue()
    }

    func startReading() {
        guard !isClosed, !isReading else { return }
        let status = uv_read_start(input, { handle, _, buffer in
            guard let buffer, let stream = FramedStream.owner(of: UnsafeMutableRawPointer(handle)) else { return }
            buffer.pointee = uv_buf_init(stream.readBuffer.assumingMemoryBound(to: CChar.self),
                                         UInt32(FramedStream.readChunkSize))
        }, { handle, count, _ in
            guard let stream = FramedStream.owner(of: UnsafeMutableRawPointer(handle)) else { return }
            stream.didRead(count: count)
        })
        if status == 0 {
            isReading = true
        } else {
            close(.ioError(UVError(status, "uv_read_start").description))
        }
    }

    private func didRead(count: Int) {
        if count > 0 {
            decoder.append(UnsafeRawBufferPointer(start: readBuffer, count: count))
            drainDecoder()
        } else if count == Int(UV_EOF.rawValue) {
            if let onEndOfInput {
                stopReading()
                onEndOfInput()
            } else {
                close(decoder.isAtFrameBoundary ? .peerClosed : .ioError("peer closed the connection mid-frame"))
            }
        } else if count < 0 {
            close(.ioError(UVError(Int32(count), "read").description))
        }
    }

    private func drainDecoder() {
        while !isClosed {
            do {
                guard let event = try decoder.next() else { return }
                onEvent(event)
            } catch let error as FramingError {
                stopReading()
                onFramingError(error)
                return
            } catch {
                stopReading()
                onFramingError(FramingError(reason: String(describing: error)))
                return
            }
        }
    }

    private func stopReading() {
        if isReading, !isClosed {
            uv_read_stop(input)
        }
        isReading = false
    }

    /// Sends one complete frame. Silently dropped once the stream is closed: the peer is gone.
    func write(frame: Data) {
        guard !isClosed, closeWhenFlushed == nil else { return }
        if pendingWriteBytes + frame.count > backpressure.closeAbove {
            close(.closedLocally("peer is not reading: \(pendingWriteBytes) bytes unsent"))
            return
        }
        let request = WriteRequest(frame: frame)
        let pointer = request.start()
        let status = withUnsafeMutablePointer(to: &request.buffer) { buffer in
            uv_write(pointer, output, buffer, 1) { req, status in
                guard let req, let data = req.pointee.data else { return }
                let request = Unmanaged<WriteRequest>.fromOpaque(data).takeRetainedValue()
                let stream = FramedStream.owner(of: UnsafeMutableRawPointer(req.pointee.handle))
                stream?.didWrite(bytes: request.byteCount, status: status)
                request.finish()
            }
        }
        guard status == 0 else {
            Unmanaged<WriteRequest>.fromOpaque(pointer.pointee.data!).release()
            request.finish()
            close(.ioError(UVError(status, "uv_write").description))
            return
        }
        pendingWrites += 1
        pendingWriteBytes += frame.count
        if pendingWriteBytes > backpressure.pauseReadingAbove, isReading {
            readingPaused = true
            stopReading()
        }
    }

    private func didWrite(bytes: Int, status: Int32) {
        pendingWrites -= 1
        pendingWriteBytes -= bytes
        if status < 0, status != UV_ECANCELED.rawValue {
            close(.ioError(UVError(status, "write").description))
            return
        }
        if readingPaused, pendingWriteBytes < backpressure.resumeReadingBelow, !isClosed {
            readingPaused = false
            startReading()
        }
        if pendingWrites == 0, let reason = closeWhenFlushed {
            closeWhenFlushed = nil
            close(reason)
        }
    }

    /// Closes once every queued frame has been handed to the kernel (the answer to a fatal error, `exit`).
    func closeAfterFlush(_ reason: StreamCloseReason) {
        guard !isClosed else { return }
        stopReading()
        if pendingWrites == 0 {
            close(reason)
        } else {
            closeWhenFlushed = reason
        }
    }

    /// Closes now; queued writes are cancelled. `onClose` runs exactly once.
    func close(_ reason: StreamCloseReason) {
        guard !isClosed else { return }
        stopReading()
        isClosed = true
        let handles = input == output ? [input] : [input, output]
        for handle in handles {
            let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
            uv_close(raw) { handle in
                guard let handle, let stream = FramedStream.owner(of: UnsafeMutableRawPointer(handle)) else { return }
                freeHandle(handle)
                stream.handleClosed()
            }
        }
        onClose(reason)
    }

    private func handleClosed() {
        openHandles -= 1
        if openHandles == 0 {
            onEvent = { _ in }
            onFramingError = { _ in }
            onClose = { _ in }
            onEndOfInput = nil
            selfReference?.release()
            selfReference = nil
        }
    }
}

/// One in-flight `uv_write`: the request and a pinned copy of the bytes, alive until the write callback.
private final class WriteRequest {
    let request = allocateHandle(uv_write_t.self)
    let bytes: UnsafeMutableRawPointer
    let byteCount: Int
    var buffer: uv_buf_t

    init(frame: Data) {
        byteCount = frame.count
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(frame.count, 1), alignment: 1)
        frame.copyBytes(to: bytes.assumingMemoryBound(to: UInt8.self), count: frame.count)
        buffer = uv_buf_init(bytes.assumingMemoryBound(to: CChar.self), UInt32(frame.count))
    }

    func start() -> UnsafeMutablePointer<uv_write_t> {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        return request
    }

    func finish() {
        freeHandle(request)
        bytes.deallocate()
    }
}
