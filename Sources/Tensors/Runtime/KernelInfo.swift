import CKernels

/// Which implementation the C kernels dispatched to on this CPU.
public enum KernelInfo {
    public static var usesAVX512: Bool { torl_kernels_use_avx512() != 0 }

    /// Switches between the AVX-512 kernels (where the CPU has them) and the portable ones.
    public static func enableAVX512(_ enabled: Bool) { torl_kernels_enable_avx512(enabled ? 1 : 0) }
}
