import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Opens input files the safe way: the path is checked with `stat` to be a regular file before
/// anything opens it (a FIFO, device, socket or directory is refused, never read or waited on),
/// it is opened non-blocking, and its size is bounded before a byte is allocated.
public enum InputFile {
    /// The largest JSON or text file read whole (config, index, tokenizer, texts).
    public static let defaultLimit = 1 << 30

    /// An open regular file: its descriptor (close it) and size.
    package struct Opened {
        package let descriptor: Int32
        package let size: Int
    }

    /// What a path is, when it is not a regular file.
    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    private static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT, ENOTDIR: return "file not found"
        case EACCES, EPERM: return "permission denied"
        default: return "cannot open (\(String(cString: strerror(code))))"
        }
    }

    /// Opens `url` for reading after checking it is a regular file (`what` names what was expected).
    package static func openRegular(_ url: URL, what: String = "a file") throws -> Opened {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw DuoError(file: url, reason(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw DuoError(file: url, "\(kind(info.st_mode)), not \(what)") }
        let fd = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw DuoError(file: url, reason(errno)) }
        // The path may have changed between stat and open: check what was opened.
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DuoError(file: url, "\(kind(info.st_mode)), not \(what)")
        }
        return Opened(descriptor: fd, size: Int(info.st_size))
    }

    /// The whole contents of the regular file `url`, at most `limit` bytes.
    public static func contents(_ url: URL, limit: Int = defaultLimit, what: String = "a file") throws -> Data {
        let file = try openRegular(url, what: what)
        defer { close(file.descriptor) }
        guard file.size <= limit else { throw DuoError(file: url, "\(file.size) bytes, more than the limit of \(limit)") }
        var data = Data(count: file.size)
        var filled = 0
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while filled < file.size {
                let n = read(file.descriptor, buffer.baseAddress! + filled, file.size - filled)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw DuoError(file: url, "cannot read (\(String(cString: strerror(errno))))") }
                if n == 0 { break }  // the file shrank while being read
                filled += n
            }
        }
        return filled == file.size ? data : data.prefix(filled)
    }
}
