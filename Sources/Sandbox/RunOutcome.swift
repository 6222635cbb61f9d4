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
func classifyRun(exitCode: Int?, signal: Int?, killReason: KillReason?, stderr: String) -> ExecutionStatus {
    switch killReason {
    case .timeout: return .timeout
    case .outputLimit: return .outputLimit
    case nil: break
    }
    if signal == Int(SIGXCPU) { return .timeout }
    if let line = lastLine(of: stderr), line.hasPrefix("MemoryError") { return .memory }
    if signal != nil { return .killed }
    return exitCode == 0 ? .ok : .error
}

/// Words for the result's `message`, saying which limit ended the run.
func killMessage(status: ExecutionStatus, signal: Int?, limits: ExecutionLimits) -> String? {
    switch status {
    case .timeout where signal == Int(SIGXCPU):
        return "CPU time limit of \(limits.cpuSeconds) s exceeded (SIGXCPU)"
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
