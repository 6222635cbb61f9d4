import CUV
import Foundation
import SystemSupport

/// Outgoing TCP and Unix socket connections on the loop thread.
enum Connector {
    private final class Attempt {
        let handle: UnsafeMutablePointer<uv_stream_t>
        let request = allocateHandle(uv_connect_t.self)
        let description: String
        let completion: (Result<UnsafeMutablePointer<uv_stream_t>, Error>) -> Void

        init(handle: UnsafeMutablePointer<uv_stream_t>, description: String,
             completion: @escaping (Result<UnsafeMutablePointer<uv_stream_t>, Error>) -> Void) {
            self.handle = handle
            self.description = description
            self.completion = completion
            request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        }

        static func finished(_ request: UnsafeMutablePointer<uv_connect_t>?, status: Int32) {
            guard let request, let data = request.pointee.data else { return }
            let attempt = Unmanaged<Attempt>.fromOpaque(data).takeRetainedValue()
            freeHandle(request)
            if status == 0 {
                attempt.completion(.success(attempt.handle))
            } else {
                closeAndFree(attempt.handle)
                attempt.completion(.failure(RPCClientError.connectFailed(UVError(status, "connect \(attempt.description)").description)))
            }
        }
    }

    static func connect(to endpoint: Endpoint, loop: EventLoop,
                        completion: @escaping (Result<UnsafeMutablePointer<uv_stream_t>, Error>) -> Void) throws {
        switch endpoint {
        case .tcp:
            var address = try endpoint.socketAddress()
            let tcp = allocateHandle(uv_tcp_t.self)
            uv_tcp_init(loop.raw, tcp)
            uv_tcp_nodelay(tcp, 1)
            let attempt = Attempt(handle: asStream(tcp), description: endpoint.description, completion: completion)
            let status = withUnsafePointer(to: &address) {
                uv_tcp_connect(attempt.request, tcp, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self)) {
                    Attempt.finished($0, status: $1)
                }
            }
            if status != 0 { Attempt.finished(attempt.request, status: status) }
        case .unix(let path):
            let pipe = allocateHandle(uv_pipe_t.self)
            uv_pipe_init(loop.raw, pipe, 0)
            let attempt = Attempt(handle: asStream(pipe), description: endpoint.description, completion: completion)
            uv_pipe_connect(attempt.request, pipe, path) { Attempt.finished($0, status: $1) }
        }
    }
}
