import CKernels

/// An instruction-set path of the C kernels: one dispatch table each, the best the CPU has chosen at start-up.
public enum KernelPath: String, CaseIterable, Sendable, CustomStringConvertible {
    /// avxvnni: the avx2 path with AVX-VNNI int8 code sums (vpdpbusd on 256-bit registers); neon: aarch64 Advanced
    /// SIMD; neondot: the neon path with `sdot` int8 code sums (the Armv8.2 dot-product extension).
    case portable, avx2, avxvnni, avx512, neon, neondot

    var code: Int32 {
        switch self {
        case .portable: Int32(TORL_KERNELS_PORTABLE)
        case .avx2: Int32(TORL_KERNELS_AVX2)
        case .avxvnni: Int32(TORL_KERNELS_AVX_VNNI)
        case .avx512: Int32(TORL_KERNELS_AVX512)
        case .neon: Int32(TORL_KERNELS_NEON)
        case .neondot: Int32(TORL_KERNELS_NEON_DOT)
        }
    }

    /// Whether this CPU (and this build) can run the path.
    public var isAvailable: Bool { torl_kernels_path_available(code) != 0 }

    public var description: String { rawValue }
}

/// TORL_KERNELS names a path that does not exist or that this CPU cannot run.
public struct KernelPathError: Error, CustomStringConvertible {
    public let description: String
}

/// Which implementation the C kernels dispatch to, and the setting (TORL_KERNELS) that forces one.
public enum KernelInfo {
    /// The path in use.
    public static var path: KernelPath {
        let code = torl_kernels_path()
        return KernelPath.allCases.first { $0.code == code } ?? .portable
    }

    /// The paths this CPU can run, portable first.
    public static var availablePaths: [KernelPath] { KernelPath.allCases.filter(\.isAvailable) }

    public static var usesAVX512: Bool { path == .avx512 }

    /// The path and the optional instructions it uses on this CPU, e.g. "avx512 (bf16, vnni)" or "avx2".
    public static var summary: String {
        var extras: [String] = []
        if torl_kernels_use_avx512_bf16() != 0 { extras.append("bf16") }
        if torl_kernels_use_avx512_vnni() != 0 { extras.append("vnni") }
        return extras.isEmpty ? path.rawValue : "\(path.rawValue) (\(extras.joined(separator: ", ")))"
    }

    /// Switches every kernel to `path` (tests and benchmarks compare paths in one process).
    public static func select(_ path: KernelPath) throws {
        guard torl_kernels_select_path(path.code) == 0 else {
            throw KernelPathError(description: "kernel path \(path) needs instructions this CPU lacks (available: "
                                  + availablePaths.map(\.rawValue).joined(separator: ", ") + ")")
        }
    }

    /// Checks TORL_KERNELS before any kernel runs: the C dispatcher would stop the process on a bad value, this
    /// says why as an error the command reports.
    public static func checkRequestedPath() throws {
        let requested = torl_kernels_requested_path()
        let available = availablePaths.map(\.rawValue).joined(separator: ", ")
        if requested == -2 {
            throw KernelPathError(description: "TORL_KERNELS names no kernel path (known: "
                                  + KernelPath.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        if requested >= 0, torl_kernels_path_available(requested) == 0 {
            let name = String(cString: torl_kernels_path_name(requested))
            throw KernelPathError(description: "TORL_KERNELS=\(name): this CPU lacks the instructions of that kernel path (available: \(available))")
        }
    }

    /// The path TORL_KERNELS asks for, or the best the CPU has: what a test should return to after comparing paths.
    public static var defaultPath: KernelPath {
        let requested = torl_kernels_requested_path()
        if requested >= 0, let path = KernelPath.allCases.first(where: { $0.code == requested }), path.isAvailable { return path }
        return availablePaths.last ?? .portable
    }
}
