import CBLAS
import Foundation

/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library loads. Debian's 0.3.21 takes AVX-512 CPUs for
/// Haswell and runs sgemm at half speed, so the executable sets the variable and re-executes itself before any
/// BLAS call (docs/ARCHITECTURE.md, "Facts about these machines").
public enum BLASEnvironment {
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// The OpenBLAS kernel family for a CPU with these /proc/cpuinfo flags, or nil to leave the choice to OpenBLAS.
    public static func recommendedCoreType(cpuFlags: Set<Substring>) -> String? {
        if cpuFlags.contains("avx512f") && cpuFlags.contains("avx512bw") { return "SkylakeX" }
        if cpuFlags.contains("avx2") { return "Haswell" }
        return nil
    }

    /// The flags of the first processor in a /proc/cpuinfo text.
    public static func cpuFlags(cpuinfo: String) -> Set<Substring> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " "))
        }
        return []
    }

    /// When the variable is unset and this CPU has a better core type than OpenBLAS would pick, sets it and
    /// replaces the process with a fresh copy of itself (same arguments). Returns normally when nothing needs
    /// doing or the re-exec is impossible; the program then runs with OpenBLAS's own choice.
    public static func reexecIfNeeded() {
        guard getenv(coreTypeVariable) == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let coreType = recommendedCoreType(cpuFlags: cpuFlags(cpuinfo: cpuinfo)) else { return }
        setenv(coreTypeVariable, coreType, 1)
        var arguments: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", &arguments)
        // execv returned: it failed. Carry on in this process (the variable is set for any child processes).
        for pointer in arguments { free(pointer) }
    }

    /// The core type in effect for this process (what the environment said when OpenBLAS loaded), or nil.
    public static var coreTypeInEffect: String? {
        guard let value = getenv(coreTypeVariable) else { return nil }
        return String(cString: value)
    }

    /// Threads OpenBLAS uses for one call (1 once `ComputePool` is in use: it splits GEMMs itself).
    public static var blasThreadCount: Int {
        _ = ComputePool.workerCount
        return Int(openblas_get_num_threads())
    }

    /// The kernel family OpenBLAS selected (e.g. "SkylakeX").
    public static var blasCoreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
