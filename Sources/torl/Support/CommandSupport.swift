import ArgumentParser
import Dispatch
import Foundation
import JSONRPC
import SystemSupport

/// Runs async work to completion from synchronous command code. Every torl command is synchronous (ArgumentParser's
/// top-level async entry did not dispatch async subcommands here) and `serve` owns the main thread; the work runs
/// detached so it never waits on the blocked caller's context.
func blockingAwait<T>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = Locked<Result<T, Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let outcome: Result<T, Error>
        do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
        box.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try box.withLock { $0! }.get()
}

func blockingAwait(_ work: @escaping @Sendable () async -> Void) {
    try? blockingAwait { () async throws -> Void in await work() }
}

/// Why a command stopped, in its own terms: printed as the command's error, without the usage text a
/// `ValidationError` adds (the command line was fine; the state it met was not).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
}

/// Figures shared by the bench commands.
enum BenchFigures {
    /// Nearest-rank percentile of ascending samples (0 when there are none).
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    /// The CPU's model name from /proc/cpuinfo, for the machine part of a report.
    static func cpuModel() -> String {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }
}

/// This executable's path, to start a daemon from it. The resolved path rather than /proc/self/exe, so that `ps`
/// and `pgrep` show the daemon under the same name as the command that started it.
func ownExecutablePath() throws -> String {
    let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw RPCClientError.connectFailed("cannot find this executable to start the daemon (\(path))")
    }
    return path
}

/// The model a command loads itself: the path given with `option` (its flag named in the error), else $TORL_MODEL.
func modelPath(_ given: String?, option: String = "--model") throws -> String {
    guard let path = given ?? ProcessInfo.processInfo.environment["TORL_MODEL"] else {
        throw ValidationError("no model: pass \(option) or set TORL_MODEL")
    }
    return path
}
