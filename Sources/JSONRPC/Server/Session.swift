/// Per-connection lifecycle as in LSP: `initialize` first (exactly once), then work, then `shutdown`, then the
/// `exit` notification. A pure state machine so its rules are tested without sockets.
struct Session {
    enum Phase: Equatable {
        case awaitingInitialize
        /// `initialize` accepted and its handler running; everything else waits for its answer.
        case initializing
        case ready
        case shutDown
    }

    enum Admission: Equatable {
        case initialize
        case shutdown
        case dispatch
        /// Sent while `initialize` is still running: held and replayed once it is answered, so a client that
        /// pipelines (`torl serve --stdio < requests`) gets the same answers as one that waits.
        case holdUntilInitialized
        case reject(RPCError)
    }

    private(set) var phase = Phase.awaitingInitialize

    /// What to do with a request for `method`, given where the session is and whether the server is stopping.
    mutating func admit(method: String, serverStopping: Bool) -> Admission {
        if serverStopping { return .reject(.shuttingDown("the server is stopping")) }
        switch (phase, method) {
        case (.awaitingInitialize, LifecycleMethod.initialize):
            phase = .initializing
            return .initialize
        case (.awaitingInitialize, _):
            return .reject(.serverNotInitialized)
        case (.initializing, _):
            return .holdUntilInitialized
        case (.ready, LifecycleMethod.initialize):
            return .reject(.alreadyInitialized)
        case (.ready, LifecycleMethod.shutdown):
            phase = .shutDown
            return .shutdown
        case (.ready, _):
            return .dispatch
        case (.shutDown, _):
            return .reject(.shuttingDown("'shutdown' was received on this connection; only 'exit' is accepted"))
        }
    }

    mutating func initializeFinished(succeeded: Bool) {
        guard phase == .initializing else { return }
        phase = succeeded ? .ready : .awaitingInitialize
    }

    var isInitializing: Bool { phase == .initializing }

    /// LSP: notifications before initialization are dropped, except `exit`.
    func acceptsNotification(_ method: String) -> Bool {
        method == LifecycleMethod.exit || phase == .ready || phase == .shutDown
    }

    /// The process exit status LSP prescribes for `exit`: 0 after `shutdown`, 1 otherwise.
    var exitStatus: Int32 { phase == .shutDown ? 0 : 1 }
}

public enum LifecycleMethod {
    public static let initialize = "initialize"
    public static let shutdown = "shutdown"
    public static let exit = "exit"
    public static let cancelRequest = "$/cancelRequest"
}
