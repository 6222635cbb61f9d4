import CUV
import Foundation

/// Zeroed storage for a libuv handle or request, released by `freeHandle` (directly, or as the close callback of
/// `closeAndFree`). Zeroed so that `data` reads as nil until the owner sets it.
public func allocateHandle<Handle>(_ type: Handle.Type) -> UnsafeMutablePointer<Handle> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Handle>.size, alignment: 16)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Handle>.size)
    return raw.assumingMemoryBound(to: Handle.self)
}

/// Releases storage from `allocateHandle`; takes any pointer type, as libuv's callbacks hand back the base type.
public func freeHandle<Handle>(_ pointer: UnsafeMutablePointer<Handle>?) {
    guard let pointer else { return }
    UnsafeMutableRawPointer(pointer).deallocate()
}

public func asHandle<Handle>(_ pointer: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_handle_t.self)
}

public func asStream<Handle>(_ pointer: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_stream_t.self)
}

/// Closes a handle from `allocateHandle` and frees it once libuv is done with it; a handle already closing is left
/// to its own close callback.
public func closeAndFree<Handle>(_ pointer: UnsafeMutablePointer<Handle>) {
    let handle = asHandle(pointer)
    if uv_is_closing(handle) != 0 { return }
    handle.pointee.data = nil
    uv_close(handle) { freeHandle($0) }
}
