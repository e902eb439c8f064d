import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Results that take long to compute (oracle searches, best-of-N, eval sweeps), kept on disk so
/// that re-opening a text, switching back to a budget or running `eval` again is instant.
///
/// An entry is stored under a hash of its key — the parts that determine the result (the model's
/// weights and config by content, the token ids, the policy, k, the oracle context, ...), and the
/// running executable by content, so a rebuilt duoscope never reads an older build's results — and
/// records the key itself and a checksum of its bytes: a hash collision, a truncated or corrupt
/// entry, or one from another format is a miss (and is removed), never a wrong result. Entries are
/// written to a temporary file and renamed into place, so concurrent writers and readers only ever
/// see whole entries.
///
/// The entries are bounded on disk (`byteLimit`): an older build's entries, which no build reads
/// again, and results not used for long are the first to go (see `prune`).
public final class ResultCache: @unchecked Sendable {  // the file system is the shared state; the byte count is locked
    public let directory: URL
    /// Bump when what is stored changes meaning.
    static let format = "duoscope-cache/1"
    /// The build whose results this cache reads and writes.
    let build: String
    /// The most the entries may hold on disk, in bytes.
    public let byteLimit: Int
    /// Bytes this instance may still store before it prunes again (0 at first: its first store prunes).
    private var bytesUntilPrune = 0
    private let pruneLock = NSLock()

    public init(directory: URL, build: String = ResultCache.currentBuild, byteLimit: Int = 256 << 20) {
        self.directory = directory
        self.build = build
        self.byteLimit = byteLimit
    }

    /// A hash of the running executable (the binary, or the test bundle), computed once.
    public static let currentBuild: String = {
        guard let file = try? MappedFile(url: URL(fileURLWithPath: "/proc/self/exe")) else { return "unknown-build" }
        var hasher = ContentHash.Hasher128()
        hasher.add(file.bytes)
        return hasher.hex
    }()

    /// The user's cache: `$DUOSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/duoscope`, else
    /// `~/.cache/duoscope`; nil when `DUOSCOPE_NO_CACHE` is set or there is no home.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ResultCache? {
        UserDirectory.cache.url(environment: environment).map { ResultCache(directory: $0) }
    }

    private struct Entry<Value: Codable>: Codable {
        var format: String
        var key: [String]
        var value: Value
    }

    private func url(for key: [String]) -> URL {
        directory.appendingPathComponent(ContentHash.hex(Data(([Self.format, build] + key).joined(separator: "\u{1F}").utf8)) + ".json")
    }

    /// The value stored under `key`, or nil (missing, corrupt, or another key's).
    public func value<Value: Codable>(_ type: Value.Type, for key: [String]) -> Value? {
        let file = url(for: key)
        guard let data = try? InputFile.contents(file, limit: 1 << 30) else { return nil }
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")),
            String(decoding: data[..<newline], as: UTF8.self) == ContentHash.hex(data[(newline + 1)...]),
            let entry = try? JSONDecoder().decode(Entry<Value>.self, from: data[(newline + 1)...]),
            entry.format == Self.format
        else {
            try? FileManager.default.removeItem(at: file)
            return nil
        }
        guard entry.key == [build] + key else { return nil }
        // A hit is a use: the entry's time is renewed, so that pruning keeps it.
        _ = utimes(file.path, nil)
        return entry.value
    }

    /// Stores `value` under `key`; failures (a read-only disk, a full one) only cost the caching.
    public func store<Value: Codable>(_ value: Value, for key: [String]) {
        guard let json = try? JSONEncoder().encode(Entry(format: Self.format, key: [build] + key, value: value)) else { return }
        var data = Data((ContentHash.hex(json) + "\n").utf8)
        data.append(json)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? AtomicFile.write(data, to: url(for: key))
        // Pruned at an instance's first store, then after each sixteenth of the limit it stores.
        pruneLock.lock()
        bytesUntilPrune -= data.count
        let due = bytesUntilPrune <= 0
        if due { bytesUntilPrune = byteLimit / 16 }
        pruneLock.unlock()
        if due { prune() }
    }

    /// When the entries hold more than `byteLimit` bytes, removes the least recently used (by
    /// modification time, which a hit renews) until they hold at most three quarters of it; and
    /// removes temporary files that a writer left an hour ago or more (a process killed while
    /// writing). Other files in the folder are left alone.
    func prune(now: Date = Date()) {
        let properties: [URLResourceKey] = [.isRegularFileKey, .fileSizeKey, .contentModificationDateKey]
        guard let files = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: properties) else {
            return
        }
        var entries: [(file: URL, bytes: Int, used: Date)] = []
        for file in files {
            guard let values = try? file.resourceValues(forKeys: Set(properties)), values.isRegularFile == true else { continue }
            let used = values.contentModificationDate ?? .distantPast
            let name = file.lastPathComponent
            if let target = AtomicFile.target(ofTemporary: name) {
                if target.hasSuffix(".json"), now.timeIntervalSince(used) >= 3600 { try? FileManager.default.removeItem(at: file) }
            } else if name.hasSuffix(".json") {
                entries.append((file, values.fileSize ?? 0, used))
            }
        }
        var total = entries.reduce(0) { $0 + $1.bytes }
        guard total > byteLimit else { return }
        for entry in entries.sorted(by: { $0.used < $1.used }) {
            if total <= byteLimit / 4 * 3 { break }
            try? FileManager.default.removeItem(at: entry.file)
            total -= entry.bytes
        }
    }
}

/// A fast 128-bit content hash (two independent 64-bit multiply-rotate lanes over 8-byte words),
/// for cache keys and model fingerprints; not cryptographic.
public enum ContentHash {
    public static func hex<D: DataProtocol>(_ data: D) -> String {
        var hasher = Hasher128()
        for region in data.regions { region.withUnsafeBytes { hasher.add($0) } }
        return hasher.hex
    }

    public struct Hasher128 {
        private var a: UInt64 = 0x9E37_79B9_7F4A_7C15
        private var b: UInt64 = 0xC2B2_AE3D_27D4_EB4F
        private var length: UInt64 = 0

        public init() {}

        @inline(__always)
        private mutating func mix(_ word: UInt64) {
            a = (a ^ word) &* 0xFF51_AFD7_ED55_8CCD
            a = (a << 31) | (a >> 33)
            b = (b &+ word) &* 0xC4CE_B9FE_1A85_EC53
            b = (b << 29) | (b >> 35)
        }

        public mutating func add(_ bytes: UnsafeRawBufferPointer) {
            let count = bytes.count
            var i = 0
            while i + 8 <= count {
                mix(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                tail |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            if shift > 0 { mix(tail ^ (0xA5 << 56)) }
            length &+= UInt64(count)
        }

        public mutating func add(_ text: String) {
            var copy = text
            copy.withUTF8 { add(UnsafeRawBufferPointer($0)) }
            mix(0xFF)  // separator
        }

        /// Names and Float32 contents of tensors (model or router weights), in order.
        public mutating func add(tensors: [(String, Tensor)]) {
            for (name, tensor) in tensors {
                add(name)
                add(UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * MemoryLayout<Float>.size))
            }
        }

        public var hex: String {
            var x = a ^ length
            var y = b ^ (length &* 0x9E37_79B9_7F4A_7C15)
            for _ in 0..<2 {
                x = (x ^ (x >> 33)) &* 0xFF51_AFD7_ED55_8CCD ^ y
                y = (y ^ (y >> 29)) &* 0xC4CE_B9FE_1A85_EC53 ^ x
            }
            return String(format: "%016llx%016llx", x, y)
        }
    }
}
