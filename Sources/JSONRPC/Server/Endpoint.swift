import CUV
import Foundation

/// A socket address to listen on or connect to: `tcp://HOST:PORT` (`[::1]` for IPv6, `tcp://:PORT` for loopback)
/// or `unix:PATH`.
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            var path = String(text.dropFirst("unix:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw EndpointError(text: text, reason: "empty socket path") }
            guard path.utf8.count < 108 else {
                throw EndpointError(text: text, reason: "socket path longer than 107 bytes (the sun_path limit)")
            }
            self = .unix(path: path)
            return
        }
        guard text.hasPrefix("tcp://") else {
            throw EndpointError(text: text, reason: "expected tcp://HOST:PORT or unix:PATH")
        }
        let rest = text.dropFirst("tcp://".count)
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                throw EndpointError(text: text, reason: "IPv6 address must look like [::1]:PORT")
            }
            host = rest[rest.index(after: rest.startIndex) ..< close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw EndpointError(text: text, reason: "missing :PORT") }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard let port = UInt16(portText) else {
            throw EndpointError(text: text, reason: "port must be a number in 0...65535, found '\(portText)'")
        }
        // No host means loopback: exposing a port beyond this machine must be asked for by name.
        self = .tcp(host: host.isEmpty ? "127.0.0.1" : String(host), port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }

    /// True for addresses only this machine can reach: 127.0.0.0/8, ::1, `localhost`, and Unix sockets.
    public var isLoopback: Bool {
        switch self {
        case .unix: return true
        case .tcp(let host, _):
            if host == "localhost" || host == "::1" { return true }
            let octets = host.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        }
    }

    /// The sockaddr for a TCP endpoint. Only numeric addresses and `localhost` are accepted: a daemon should not
    /// block its loop on DNS, and a name that resolves differently later would silently change what is exposed.
    func socketAddress() throws -> sockaddr_storage {
        guard case .tcp(let rawHost, let port) = self else {
            throw EndpointError(text: description, reason: "not a TCP endpoint")
        }
        let host = rawHost == "localhost" ? "127.0.0.1" : rawHost
        var storage = sockaddr_storage()
        let status: Int32 = withUnsafeMutableBytes(of: &storage) { raw in
            if host.contains(":") {
                return uv_ip6_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self))
            }
            return uv_ip4_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self))
        }
        guard status == 0 else {
            throw EndpointError(text: description, reason: "'\(rawHost)' is not a numeric IPv4/IPv6 address or localhost")
        }
        return storage
    }
}

public struct EndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "bad address '\(text)': \(reason)" }
}

public struct AuthPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var endpoint: Endpoint
    public var reason: String
    public var description: String { "cannot listen on \(endpoint): \(reason)" }
}

/// Who must present the token: the policy is decided once per listener, checked once per connection.
public enum AuthPolicy {
    /// Whether connections through `endpoint` must send `token` in `initialize`. Throws if the endpoint may not be
    /// served at all: a TCP port reachable from other machines without a token would run code for anyone.
    public static func requiresToken(for endpoint: Endpoint, token: String?) throws -> Bool {
        switch endpoint {
        case .unix:
            return false
        case .tcp:
            if let token {
                guard token.utf8.count >= 16 else {
                    throw AuthPolicyError(endpoint: endpoint, reason: "the token must be at least 16 bytes")
                }
                return true
            }
            guard endpoint.isLoopback else {
                throw AuthPolicyError(endpoint: endpoint,
                                      reason: "listening beyond loopback requires --token (clients send it in 'initialize')")
            }
            return false
        }
    }

    /// Constant-time comparison, so response timing does not reveal how much of a guess was right.
    public static func tokenMatches(presented: String?, expected: String) -> Bool {
        guard let presented else { return false }
        let lhs = Array(presented.utf8)
        let rhs = Array(expected.utf8)
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0 ..< rhs.count {
            difference |= rhs[index] ^ (index < lhs.count ? lhs[index] : 0)
        }
        return difference == 0
    }
}
