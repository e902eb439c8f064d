import DuoEngine
import Foundation

/// A resumable training state in one safetensors file: parameters (`param/NAME`), AdamW moments
/// (`adam_m/NAME`, `adam_v/NAME`), and metadata with the step, the options and the history.
/// Written atomically, so an interrupted or failed write leaves the previous checkpoint intact.
public struct TrainingCheckpoint {
    public var options: TrainingOptions
    public var step: Int
    public var history: [TrainingRecord]

    public static func write(
        to url: URL, options: TrainingOptions, weights: ModelWeights, optimizer: AdamW,
        history: [TrainingRecord]
    ) throws {
        var tensors: [(String, Tensor)] = []
        for (index, (name, tensor)) in optimizer.parameters.enumerated() {
            tensors.append(("param/" + name, tensor))
            tensors.append(("adam_m/" + name, optimizer.firstMoments[index]))
            tensors.append(("adam_v/" + name, optimizer.secondMoments[index]))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = [
            "duoscope_checkpoint": "1",
            "step": String(optimizer.step),
            "options": String(decoding: try encoder.encode(options), as: UTF8.self),
            "history": String(decoding: try encoder.encode(history), as: UTF8.self),
        ]
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    /// Reads a checkpoint into `weights` and `optimizer` (which must have the same shapes).
    public static func read(from url: URL, into weights: ModelWeights, optimizer: AdamW) throws -> TrainingCheckpoint {
        let file = try SafeTensorsFile(url: url)
        guard file.metadata["duoscope_checkpoint"] == "1", let stepText = file.metadata["step"], let step = Int(stepText),
            let optionsText = file.metadata["options"], let historyText = file.metadata["history"]
        else {
            throw DuoError(file: url, "not a duoscope training checkpoint")
        }
        let decoder = JSONDecoder()
        guard let options = try? decoder.decode(TrainingOptions.self, from: Data(optionsText.utf8)),
            let history = try? decoder.decode([TrainingRecord].self, from: Data(historyText.utf8))
        else {
            throw DuoError(file: url, "checkpoint metadata is unreadable")
        }
        for (index, (name, tensor)) in optimizer.parameters.enumerated() {
            for (prefix, target) in [
                ("param/", tensor), ("adam_m/", optimizer.firstMoments[index]), ("adam_v/", optimizer.secondMoments[index]),
            ] {
                guard let entry = file.entries[prefix + name], entry.shape == target.shape else {
                    throw DuoError(file: url, "checkpoint lacks \(prefix + name) with shape \(target.shape)")
                }
                let loaded = try file.tensor(prefix + name)
                target.data.update(from: loaded.data, count: target.count)
                target.weightsChanged()
            }
        }
        optimizer.step = step
        return TrainingCheckpoint(options: options, step: step, history: history)
    }
}
