import Foundation

/// Errors of writing training files (checkpoints, exports).
public enum TrainingFileError: Error, Equatable, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)
    case destinationNotEmpty(path: String)
    case invalidCheckpoint(path: String, detail: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case let .destinationNotEmpty(path): return "\(path) exists and is not an empty directory"
        case let .invalidCheckpoint(path, detail): return "\(path) is not a usable checkpoint: \(detail)"
        }
    }
}

/// Writes a file so that a crash never leaves it half written: the bytes go to a temporary file in the same
/// directory, which is flushed to disk (fsync) and then renamed over the destination, and the directory entry is
/// flushed too. Until `commit`, the destination keeps its old content; an abandoned writer removes its temporary.
public final class AtomicFileWriter {
    public let destination: String
    public let temporaryPath: String
    private var descriptor: Int32
    private var committed = false

    public init(destination: String) throws {
        self.destination = destination
        let directory = (destination as NSString).deletingLastPathComponent
        let name = (destination as NSString).lastPathComponent
        var template = Array(((directory.isEmpty ? "." : directory) + "/.\(name).tmp-XXXXXX").utf8CString)
        descriptor = mkstemp(&template)
        guard descriptor >= 0 else {
            throw TrainingFileError.cannotWrite(path: destination, reason: String(cString: strerror(errno)))
        }
        temporaryPath = String(cString: template)
        // mkstemp creates the file 0600; a checkpoint or an exported model is an ordinary file that other users,
        // containers and servers may read, so it gets what open(2) would give it: 0666 less the umask.
        guard fchmod(descriptor, 0o666 & ~currentUmask()) == 0 else {
            let reason = "fchmod: \(String(cString: strerror(errno)))"
            close(descriptor)
            unlink(temporaryPath)
            throw TrainingFileError.cannotWrite(path: destination, reason: reason)
        }
    }

    deinit {
        if !committed {
            if descriptor >= 0 { close(descriptor) }
            unlink(temporaryPath)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw TrainingFileError.cannotWrite(path: destination, reason: String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    public func commit() throws {
        guard fsync(descriptor) == 0 else {
            throw TrainingFileError.cannotWrite(path: destination, reason: "fsync: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        descriptor = -1
        guard rename(temporaryPath, destination) == 0 else {
            throw TrainingFileError.cannotWrite(path: destination, reason: "rename: \(String(cString: strerror(errno)))")
        }
        committed = true
        syncDirectory(containing: destination)
    }
}

/// The process's file-mode creation mask, read from /proc/self/status: umask(2) can only be read by setting it,
/// which would race with other threads creating files. 0o022 where the kernel does not report it.
func currentUmask() -> mode_t {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
          let mask = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) else {
        return 0o022
    }
    return mask
}

/// Flushes a directory's entries (a completed rename) to disk.
func syncDirectory(containing path: String) {
    let directory = (path as NSString).deletingLastPathComponent
    let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
}
