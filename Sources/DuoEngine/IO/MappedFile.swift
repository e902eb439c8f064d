import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only memory map of a whole file; unmapped when released.
public final class MappedFile: @unchecked Sendable {  // a read-only map, unmapped only on deinit
    public let url: URL
    public let count: Int
    private let base: UnsafeRawPointer?

    public init(url: URL) throws {
        self.url = url
        let file = try InputFile.openRegular(url)
        let fd = file.descriptor
        defer { close(fd) }
        count = file.size
        if count == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw DuoError(file: url, "cannot memory-map (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The mapped bytes; valid while this object lives.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
