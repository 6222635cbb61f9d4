// The fork-server each worker runs (python -c): Resources/fork_server.py, embedded in the binary at build time
// (Package.swift) so that nothing depends on the source tree at run time. Protocol and process model: see
// Worker.swift and docs/SANDBOX_IMPLEMENTATION.md.
enum ForkServerScript {
    static let source = String(decoding: PackageResources.fork_server_py, as: UTF8.self)
}
