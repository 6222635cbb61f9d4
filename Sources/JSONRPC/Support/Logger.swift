import Foundation

/// Line-oriented log to stderr or a file. Never stdout: in stdio mode stdout carries the protocol.
public final class RPCLogger: @unchecked Sendable {
    public enum Level: Int, Comparable, Sendable, CaseIterable {
        case debug, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.label == name.lowercased() }) else { return nil }
            self = level
        }

        var label: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warning: return "warning"
            case .error: return "error"
            }
        }
    }

    public let minimumLevel: Level
    private let handle: FileHandle?
    private let lock = NSLock()

    /// Discards everything (tests that only care about behaviour).
    public static let silent = RPCLogger(handle: nil, minimumLevel: .error)

    public static func standardError(minimumLevel: Level = .info) -> RPCLogger {
        RPCLogger(handle: FileHandle.standardError, minimumLevel: minimumLevel)
    }

    /// Appends to `path`, creating it (mode 0600: logs may carry request contents).
    public static func file(_ path: String, minimumLevel: Level = .info) throws -> RPCLogger {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw RPCLoggerError(path: path, reason: "cannot create the log file")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw RPCLoggerError(path: path, reason: "cannot open the log file for writing")
        }
        handle.seekToEndOfFile()
        return RPCLogger(handle: handle, minimumLevel: minimumLevel)
    }

    init(handle: FileHandle?, minimumLevel: Level) {
        self.handle = handle
        self.minimumLevel = minimumLevel
    }

    public func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard let handle, level >= minimumLevel else { return }
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let line = "\(stamp) \(level.label) \(message())\n"
        lock.lock()
        defer { lock.unlock() }
        handle.write(Data(line.utf8))
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
}

public struct RPCLoggerError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(reason): \(path)" }
}
