import Foundation

/// Where one tensor lives inside a safetensors file.
public struct TensorEntry: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Byte range relative to the start of the data section.
    public var begin: Int
    public var end: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped `.safetensors` file whose header has been fully validated:
/// header length inside the file, JSON well formed, supported dtypes, offsets inside the data
/// section and non-overlapping, and shape x dtype size equal to each byte span.
public final class SafeTensorsFile: @unchecked Sendable {  // immutable; a read-only memory map
    public let url: URL
    public let entries: [String: TensorEntry]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// The largest header accepted (the format's own limit is 100 MB).
    static let maxHeaderLength = 100_000_000

    public init(url: URL) throws {
        self.url = url
        file = try MappedFile(url: url)
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw DuoError(file: url, "truncated: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw DuoError(file: url, "header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        guard headerLength <= UInt64(Self.maxHeaderLength) else {
            throw DuoError(file: url, "header length \(headerLength) exceeds the limit of \(Self.maxHeaderLength) bytes")
        }
        dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes[8..<dataStart])
        let dataSize = bytes.count - dataStart
        let (entries, metadata) = try Self.parseHeader(headerData, dataSize: dataSize, url: url)
        self.entries = entries
        self.metadata = metadata
    }

    static func parseHeader(_ header: Data, dataSize: Int, url: URL) throws -> ([String: TensorEntry], [String: String]) {
        guard let object = ExactJSON.parseOrNil(header)?.object else {
            throw DuoError(file: url, "header is not valid JSON (expected an object)")
        }
        var entries: [String: TensorEntry] = [:]
        var metadata: [String: String] = [:]
        for (rawName, value) in object.members {
            if rawName == "__metadata__" {
                guard let dict = value.object else {
                    throw DuoError(file: url, "__metadata__ is not an object of strings")
                }
                for (key, item) in dict.members {
                    guard let text = item.string else {
                        throw DuoError(file: url, "__metadata__ value for \"\(TerminalSafe.escape(key))\" is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            let name = TerminalSafe.escape(rawName)  // for messages
            guard entries[rawName] == nil else { throw DuoError(file: url, "tensor \(name) appears twice in the header") }
            entries[rawName] = try parseEntry(name: rawName, shown: name, value: value, dataSize: dataSize, url: url)
        }
        try checkNoOverlap(entries.values, url: url)
        return (entries, metadata)
    }

    /// One header entry; `shown` is its name escaped for messages.
    private static func parseEntry(name rawName: String, shown name: String, value: ExactJSON, dataSize: Int, url: URL) throws
        -> TensorEntry
    {
        guard let fields = value.object else {
            throw DuoError(file: url, "tensor \(name): header entry is not an object")
        }
        guard let dtypeName = fields["dtype"]?.string else {
            throw DuoError(file: url, "tensor \(name): missing dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw DuoError(file: url, "tensor \(name): unsupported dtype \(TerminalSafe.escape(dtypeName)) (supported: F32, F16, BF16)")
        }
        guard let shape = intArray(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw DuoError(file: url, "tensor \(name): shape is not a list of non-negative integers")
        }
        guard let offsets = intArray(fields["data_offsets"]), offsets.count == 2 else {
            throw DuoError(file: url, "tensor \(name): data_offsets is not a pair of integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw DuoError(file: url, "tensor \(name): data_offsets [\(begin), \(end)] out of range of the \(dataSize)-byte data section")
        }
        var elements = 1
        for dim in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw DuoError(file: url, "tensor \(name): shape \(shape) is too large") }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == end - begin else {
            let needed = overflow ? "more than \(Int.max)" : "\(bytes)"
            throw DuoError(
                file: url, "tensor \(name): shape \(shape) x \(dtypeName) needs \(needed) bytes but data_offsets span \(end - begin)")
        }
        return TensorEntry(name: rawName, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    private static func checkNoOverlap<S: Sequence>(_ entries: S, url: URL) throws where S.Element == TensorEntry {
        let sorted = entries.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where next.begin < previous.end {
            throw DuoError(
                file: url, "tensors \(TerminalSafe.escape(previous.name)) and \(TerminalSafe.escape(next.name)) overlap in the data section"
            )
        }
    }

    private static func intArray(_ value: ExactJSON?) -> [Int]? {
        guard let items = value?.array else { return nil }
        let result = items.compactMap(\.int)
        return result.count == items.count ? result : nil
    }

    /// Reads a tensor, converting it to Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw DuoError(file: url, "missing tensor \(name)") }
        let tensor = Tensor(shape: entry.shape)
        guard entry.elementCount > 0 else { return tensor }
        let source = file.bytes.baseAddress! + dataStart + entry.begin
        entry.dtype.convert(from: source, count: entry.elementCount, into: tensor.data)
        return tensor
    }
}
