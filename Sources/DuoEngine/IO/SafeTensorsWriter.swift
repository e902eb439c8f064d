import Foundation

#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let systemWrite = Darwin.write
#endif

/// Writes Float32 tensors as a `.safetensors` file, atomically (a temporary file in the same
/// directory, renamed over the target only once fully written and flushed).
public enum SafeTensorsWriter {
    /// The serialised bytes: 8-byte header length, JSON header (padded to 8 bytes), data.
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in tensors {
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.count]]
            offset += 4 * tensor.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for (_, tensor) in tensors {
            data.append(UnsafeBufferPointer(start: tensor.data, count: tensor.count))
        }
        return data
    }

    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(try encode(tensors, metadata: metadata), to: url)
    }
}

/// Atomic file replacement: write a sibling temporary file, fsync it, rename it into place.
/// A failure (disk full, permissions) leaves any existing file untouched and removes the temporary.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent)\(temporaryMark)\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw DuoError(file: url, "cannot write (\(String(cString: strerror(errno))))") }
        var failure: String?
        data.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                written += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary.path)
            throw DuoError(file: url, "cannot write (\(failure)); nothing was changed")
        }
    }

    /// The name of the file that `fileName` is a temporary of (`write`'s `.NAME.tmp-PID-N`), or
    /// nil when it is not one: what a writer killed mid-write leaves behind.
    public static func target(ofTemporary fileName: String) -> String? {
        guard fileName.hasPrefix("."), let mark = fileName.range(of: temporaryMark, options: .backwards) else { return nil }
        return String(fileName[fileName.index(after: fileName.startIndex)..<mark.lowerBound])
    }

    private static let temporaryMark = ".tmp-"
}
