import ArgumentParser
import Foundation
import SystemSupport
import Tensors

// OpenBLAS reads OPENBLAS_CORETYPE when it loads, before main: set it from the CPU and re-exec when unset.
BLASEnvironment.reexecIfNeeded()

// A TORL_KERNELS value this CPU cannot honour is an error before any kernel runs (never a silent fallback).
do {
    try KernelInfo.checkRequestedPath()
} catch {
    FileHandle.standardError.write(Data("torl: \(error)\n".utf8))
    exit(2)
}

// A parent may start us with signals blocked; every thread inherits the main thread's mask, and the daemon
// relies on SIGCHLD (sandbox workers), SIGTERM and SIGINT (graceful stop) reaching its event loops.
ProcessSignals.unblockAll()

struct Torl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torl",
        abstract: "Tool-integrated reinforcement learning: inference engine, Python sandbox, grader and trainer in one daemon.",
        subcommands: [ServeCommand.self, SolveCommand.self, StatusCommand.self, GenerateCommand.self, TokenizeCommand.self, ExecCommand.self,
                      GradeCommand.self, EvalCommand.self, TrainCommand.self, SyntheticCommand.self, BenchCommand.self])
}
Torl.main()
