import Foundation

/// The process-wide signal set-up the daemon and its event loops rely on, in one place.
public enum ProcessSignals {
    /// Writing to a peer that went away (a client, a dead sandbox worker) must yield EPIPE on that one write, not
    /// kill the process. Idempotent.
    public static func ignoreBrokenPipes() {
        _ = brokenPipesIgnored
    }

    private static let brokenPipesIgnored: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Clears the calling thread's signal mask. A parent may start us with signals blocked, and every thread
    /// inherits the mask of the thread that created it: called first thing in `main`, so that SIGCHLD (sandbox
    /// workers), SIGTERM and SIGINT (graceful stop) can reach the event loops.
    public static func unblockAll() {
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
    }

    /// Unblocks `signals` on the calling thread, so the kernel can deliver them there (where libuv catches them).
    public static func unblock(_ signals: [Int32]) {
        guard !signals.isEmpty else { return }
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
