import Tensors
import XCTest

/// Switches every kernel to `path`, one of KernelInfo.availablePaths (the tests compare each path the CPU has).
func useKernelPath(_ path: KernelPath, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNoThrow(try KernelInfo.select(path), file: file, line: line)
}

/// Back to the path TORL_KERNELS asks for (or the best one), so later tests run on the path of the test run.
func restoreDefaultKernelPath() {
    try? KernelInfo.select(KernelInfo.defaultPath)
}
