import CKernels

/// Which implementation the C kernels dispatched to on this CPU.
public enum KernelInfo {
    public static var usesAVX512: Bool { torl_kernels_use_avx512() != 0 }
}
