#if canImport(Glibc)
import Glibc
#endif

/// Why the pool stopped a run before it ended by itself.
enum KillReason: Equatable {
    case timeout
    case outputLimit
}

/// The status of a run that ended, from how it ended. The pool's own kills come first: a run the pool
/// killed at the time limit is a timeout whatever signal finished it.
/// The CPU limit ends a run with SIGXCPU, or with SIGKILL when the run is pid 1 of its namespace (init
/// ignores SIGXCPU, so soft and hard limits are equal). A SIGKILL the pool did not send, after the run used
/// at least half its CPU allowance, is taken as that limit: the kernel checks the limit against its own
/// sampled CPU time, which under load was measured to fire when rusage showed only 70-95% of the limit.
func classifyRun(exitCode: Int?, signal: Int?, killReason: KillReason?, stderr: String, cpuMs: Double?,
                 cpuLimitSeconds: Double) -> ExecutionStatus {
    switch killReason {
    case .timeout: return .timeout
    case .outputLimit: return .outputLimit
    case nil: break
    }
    if signal == Int(SIGXCPU) { return .timeout }
    if signal == Int(SIGKILL), let cpuMs, cpuMs >= cpuLimitSeconds.rounded(.up) * 500 { return .timeout }
    if let line = lastLine(of: stderr), line.hasPrefix("MemoryError") { return .memory }
    if signal != nil { return .killed }
    return exitCode == 0 ? .ok : .error
}

/// Words for the result's `message`, saying which limit ended the run.
func killMessage(status: ExecutionStatus, signal: Int?, killReason: KillReason?, limits: ExecutionLimits) -> String? {
    switch status {
    case .timeout where killReason == nil:
        return "CPU time limit of \(limits.cpuSeconds) s exceeded"
    case .timeout:
        return "wall-clock limit of \(limits.wallTimeoutSeconds) s exceeded; the process group was killed"
    case .outputLimit:
        return "output exceeded \(limits.maxOutputBytes) bytes; the process group was killed"
    case .memory:
        return "memory limit of \(limits.memoryBytes) bytes reached"
    case .killed:
        return signal.map { "killed by signal \($0)" }
    default:
        return nil
    }
}

/// The last line holding anything but whitespace; for a Python traceback, the exception line.
public func lastLine(of text: String) -> String? {
    text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        .last(where: { !$0.allSatisfy(\.isWhitespace) })
        .map(String.init)
}
