import Foundation

public struct ServerConfiguration: Sendable {
    public var serverName: String
    public var serverVersion: String
    public var framing: FramingLimits
    public var backpressure: BackpressureLimits
    /// Requests one connection may have running at once; more are answered -32000 (busy).
    public var maxInFlightPerConnection: Int
    /// Socket connections served at once; more are answered -32000 and closed.
    public var maxConnections: Int
    /// Required in `initialize` on TCP connections when set; mandatory for non-loopback TCP.
    public var token: String?
    /// On stop, how long in-flight requests may run to completion before they are cancelled.
    public var finishGracePeriod: TimeInterval
    /// After cancelling, how long to wait for the -32800 answers before closing anyway.
    public var cancelGracePeriod: TimeInterval

    public init(serverName: String = "torl", serverVersion: String = "0.1.0",
                framing: FramingLimits = FramingLimits(), backpressure: BackpressureLimits = BackpressureLimits(),
                maxInFlightPerConnection: Int = 64, maxConnections: Int = 64, token: String? = nil,
                finishGracePeriod: TimeInterval = 10, cancelGracePeriod: TimeInterval = 2) {
        self.serverName = serverName
        self.serverVersion = serverVersion
        self.framing = framing
        self.backpressure = backpressure
        self.maxInFlightPerConnection = maxInFlightPerConnection
        self.maxConnections = maxConnections
        self.token = token
        self.finishGracePeriod = finishGracePeriod
        self.cancelGracePeriod = cancelGracePeriod
    }

    /// The protocol half of every `initialize` result; the Daemon's own `initialize` handler adds model and
    /// engine facts on top (its keys win).
    func protocolInfo(methods: [String]) -> JSONValue {
        let allMethods = Set(methods).union([LifecycleMethod.initialize, LifecycleMethod.shutdown]).sorted()
        return [
            "protocol_version": "1",
            "server": ["name": .string(serverName), "version": .string(serverVersion)],
            "capabilities": [
                "methods": .array(allMethods.map(JSONValue.string)),
                "cancellation": true,
                "progress": ["notification": .string(ProgressNotification.method), "token": "params.progress_token"],
            ],
            "limits": [
                "max_body_bytes": .int(Int64(framing.maxBodyBytes)),
                "max_header_bytes": .int(Int64(framing.maxHeaderBytes)),
                "max_in_flight_per_connection": .int(Int64(maxInFlightPerConnection)),
            ],
        ]
    }
}
