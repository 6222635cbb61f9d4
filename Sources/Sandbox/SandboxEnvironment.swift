import Foundation

/// The only environment variables workers and runs see: none of the daemon's own.
enum SandboxEnvironment {
    /// Single-threaded BLAS keeps forks cheap and a forked numpy matmul fast (12 ms -> 4 ms measured).
    private static let common: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    ]

    static let run: [String: String] = common

    /// The fork-server's environment. OPENBLAS_CORETYPE, when the daemon has it, is the one daemon setting
    /// passed on: it only selects BLAS kernels for this CPU and must be set before the library loads.
    static func server(daemonEnvironment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment = common
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTHONNOUSERSITE"] = "1"
        if let coreType = daemonEnvironment["OPENBLAS_CORETYPE"], !coreType.isEmpty,
           coreType.allSatisfy({ $0.isLetter || $0.isNumber }) {
            environment["OPENBLAS_CORETYPE"] = coreType
        }
        return environment
    }
}
