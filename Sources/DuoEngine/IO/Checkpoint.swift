import Foundation

/// A model's tensors: one `model.safetensors`, or shards listed by `model.safetensors.index.json`.
public final class Checkpoint: @unchecked Sendable {  // immutable after init; the files are read-only maps
    /// The file named in errors about the checkpoint as a whole (the single file or the index).
    public let url: URL
    private let files: [SafeTensorsFile]
    private let location: [String: Int]

    /// Opens the checkpoint in a model directory, preferring a single file over an index.
    public convenience init(directory: URL) throws {
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        let fm = FileManager.default
        if fm.fileExists(atPath: single.path) {
            try self.init(files: [SafeTensorsFile(url: single)], url: single)
        } else if fm.fileExists(atPath: index.path) {
            try self.init(index: index)
        } else {
            throw DuoError(file: single, "file not found (nor model.safetensors.index.json)")
        }
    }

    /// Opens a sharded checkpoint from its index.
    public convenience init(index: URL) throws {
        let data = try InputFile.contents(index, limit: 1 << 28)
        guard let map = ExactJSON.parseOrNil(data)?["weight_map"]?.object else {
            throw DuoError(file: index, "not a valid index (expected JSON with a weight_map object)")
        }
        var shardNames: [String] = []
        var nameOfShard: [String: String] = [:]
        for (tensor, value) in map.members {
            guard let shard = value.string, !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
                throw DuoError(file: index, "weight_map entry for \(tensor) is not a file name in the model directory")
            }
            nameOfShard[tensor] = shard
            if !shardNames.contains(shard) { shardNames.append(shard) }
        }
        shardNames.sort()
        let directory = index.deletingLastPathComponent()
        let files = try shardNames.map { try SafeTensorsFile(url: directory.appendingPathComponent($0)) }
        for (tensor, shard) in nameOfShard {
            let file = files[shardNames.firstIndex(of: shard)!]
            guard file.entries[tensor] != nil else {
                throw DuoError(file: file.url, "missing tensor \(tensor) (the index places it in this shard)")
            }
        }
        try self.init(files: files, url: index, only: nameOfShard.mapValues { shardNames.firstIndex(of: $0)! })
    }

    private init(files: [SafeTensorsFile], url: URL, only: [String: Int]? = nil) throws {
        self.files = files
        self.url = url
        if let only {
            location = only
        } else {
            var location: [String: Int] = [:]
            for (i, file) in files.enumerated() {
                for name in file.entries.keys { location[name] = i }
            }
            self.location = location
        }
    }

    public var tensorNames: [String] { location.keys.sorted() }

    public func entry(_ name: String) -> TensorEntry? {
        guard let i = location[name] else { return nil }
        return files[i].entries[name]
    }

    /// The file holding tensor `name` (a shard of a sharded checkpoint).
    public func file(of name: String) -> URL? {
        location[name].map { files[$0].url }
    }

    public func tensor(_ name: String) throws -> Tensor {
        guard let i = location[name] else { throw DuoError(file: url, "missing tensor \(name)") }
        return try files[i].tensor(name)
    }

    /// The dtype most tensors are stored in (for summaries).
    public var dominantDType: DType? {
        var counts: [DType: Int] = [:]
        for name in location.keys { if let e = entry(name) { counts[e.dtype, default: 0] += e.elementCount } }
        return counts.max { $0.value < $1.value }?.key
    }
}
