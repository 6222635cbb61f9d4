import ArgumentParser
import Dispatch
import Foundation
import Sandbox

/// `torl exec [FILE]`: runs Python code through the sandbox pool and prints the result as JSON.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run Python code (a file, or stdin) in the sandbox and print the result as JSON.",
        discussion: "Exits 0 whenever the code ran, whatever its status; 2 when the sandbox itself failed.")

    @Argument(help: "Python file to run; stdin when omitted or '-'.")
    var file: String?

    @Option(help: "Wall-clock limit in seconds.")
    var timeout: Double = ExecutionLimits().wallTimeoutSeconds

    @Option(help: "CPU-time limit in seconds.")
    var cpu: Double = ExecutionLimits().cpuSeconds

    @Option(help: "Memory limit in MiB (beyond the warm interpreter).")
    var memoryMib: Int = ExecutionLimits().memoryBytes >> 20

    @Option(help: "Output limit in bytes (stdout plus stderr).")
    var maxOutputBytes: Int = ExecutionLimits().maxOutputBytes

    @Flag(help: "Also print the pool's status (isolation in force, counters) to stderr.")
    var showStatus = false

    func run() throws {
        let code = try readSource()
        var limits = ExecutionLimits()
        limits.wallTimeoutSeconds = timeout
        limits.cpuSeconds = cpu
        limits.memoryBytes = memoryMib << 20
        limits.maxOutputBytes = maxOutputBytes
        if let problem = limits.problem() { throw ValidationError(problem) }
        let pool = try SandboxPool(configuration: SandboxConfiguration(poolSize: 1, defaultLimits: limits))
        let showStatus = showStatus
        let (result, status) = try blockingAwait { () async -> (ExecutionResult, SandboxMetrics) in
            let result = await pool.execute(code)
            let status = await pool.status()
            await pool.shutdown()
            return (result, status)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(result))
        FileHandle.standardOutput.write(Data("\n".utf8))
        if showStatus {
            encoder.outputFormatting.insert(.prettyPrinted)
            FileHandle.standardError.write(try encoder.encode(status))
            FileHandle.standardError.write(Data("\n".utf8))
        }
        if result.status == .sandboxError { throw ExitCode(2) }
    }

    private func readSource() throws -> String {
        let data: Data
        if let file, file != "-" {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            data = contents
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        return String(decoding: data, as: UTF8.self)
    }
}
