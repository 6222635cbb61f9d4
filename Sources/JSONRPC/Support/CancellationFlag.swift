import Foundation
import SystemSupport

/// Set once when a request is cancelled; for work that runs outside the request's Swift task (a compute thread,
/// a sandbox worker) and so cannot see `Task.isCancelled`.
public final class CancellationFlag: @unchecked Sendable {
    private let state = Locked(false)

    public init() {}

    public var isCancelled: Bool { state.current }

    public func cancel() {
        state.withLock { $0 = true }
    }
}
