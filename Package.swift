// swift-tools-version:6.0
import PackageDescription

// Layout and import direction: docs/ARCHITECTURE.md.
// SystemSupport → CUV; Tensors → CBLAS; Models → Tensors, Tokenizers; Generation → Models; Sandbox → SystemSupport, CUV;
// RL → Generation, Sandbox, MathGrader, Tokenizers; Cluster → RL, CGloo; JSONRPC → SystemSupport, CUV;
// TorlProtocol → Foundation only;
// Daemon → everything; torl → Daemon.
let package = Package(
    name: "torl",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "torl", targets: ["torl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CUV", path: "Sources/CUV", pkgConfig: "libuv",
                       providers: [.apt(["libuv1-dev"])]),

        // AVX-512, AVX2 and NEON inner loops with run-time CPU dispatch and portable fallbacks (docs/ENGINE.md).
        .target(name: "CKernels"),
        // Plumbing shared by the event-loop users and the wire: the libuv loop thread, handle helpers, signal set-up,
        // `Locked`, the JSON coding wrappers.
        .target(name: "SystemSupport", dependencies: ["CUV"]),
        .target(name: "Tensors", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Tokenizers"),
        .target(name: "Models", dependencies: ["Tensors", "Tokenizers"]),
        .target(name: "Generation", dependencies: ["Models", "Tokenizers", "Tensors"]),
        // The fork-server is Python, linted and unit-tested as such (make test-python), embedded in the binary here.
        .target(name: "Sandbox", dependencies: ["CUV", "SystemSupport"],
                resources: [.embedInCode("Resources/fork_server.py")]),
        .target(name: "MathGrader", dependencies: [.product(name: "BigInt", package: "BigInt")]),
        .target(name: "RL", dependencies: [
            "Generation", "Models", "Tensors", "Tokenizers", "Sandbox", "MathGrader", "SystemSupport",
        ]),
        // Gloo (C++, Debian's libgloo-dev) behind a C header: process groups and all-reduces (docs/CLUSTER.md).
        .target(name: "CGloo", linkerSettings: [.linkedLibrary("gloo")]),
        .target(name: "Cluster", dependencies: ["CGloo", "RL", "Tensors"]),
        .target(name: "JSONRPC", dependencies: ["CUV", "SystemSupport"]),
        // Each daemon method's name, params and result, declared once (Foundation only; docs/PROTOCOL.md).
        .target(name: "TorlProtocol"),
        .target(name: "Daemon", dependencies: [
            "TorlProtocol", "JSONRPC", "RL", "Cluster", "Generation", "Models", "Tokenizers", "Tensors", "Sandbox", "MathGrader",
            "SystemSupport",
        ]),
        .executableTarget(name: "torl", dependencies: [
            "TorlProtocol", "Daemon", "JSONRPC", "RL", "Generation", "Models", "Tensors", "Tokenizers", "Sandbox", "MathGrader",
            "SystemSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport", "CUV"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "CKernels"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Tensors", "Tokenizers"]),
        .testTarget(name: "GenerationTests", dependencies: ["Generation", "Models", "Tokenizers", "Tensors"]),
        .testTarget(name: "SandboxTests", dependencies: ["Sandbox"]),
        .testTarget(name: "MathGraderTests", dependencies: ["MathGrader"], exclude: ["Fixtures"]),
        .testTarget(name: "RLTests", dependencies: ["RL", "Generation", "Models", "Tensors", "Sandbox", "MathGrader"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "RL", "Models", "Tensors"]),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC", "SystemSupport"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "JSONRPC", "TorlProtocol", "SystemSupport"]),
        .testTarget(name: "TorlProtocolTests", dependencies: ["TorlProtocol"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
