import Foundation

/// Writes a model directory in the format of docs/model-format.md: config.json,
/// model.safetensors (F32) and tokenizer.json, each file replaced atomically.
public enum ModelWriter {
    public static func write(
        config: ModelConfig, weights: ModelWeights, tokenizerJSON: Data?, to directory: URL,
        metadata: [String: String] = [:]
    ) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DuoError(file: directory, "cannot create directory")
        }
        try SafeTensorsWriter.write(
            weights.named(config), metadata: metadata.merging(["format": "pt"]) { a, _ in a },
            to: directory.appendingPathComponent("model.safetensors"))
        let json = try JSONSerialization.data(withJSONObject: ConfigFile.jsonObject(config), options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json + Data("\n".utf8), to: ModelDirectory(directory).config)
        if let tokenizerJSON {
            try AtomicFile.write(tokenizerJSON, to: ModelDirectory(directory).tokenizer)
        }
    }
}
