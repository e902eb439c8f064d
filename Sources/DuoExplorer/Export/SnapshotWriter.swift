import DuoEngine
import Foundation

#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
    private let systemLink = Glibc.link
#elseif canImport(Darwin)
    import Darwin
    private let systemWrite = Darwin.write
    private let systemLink = Darwin.link
#endif

/// The files a snapshot can be written as; the raw value is the file extension.
public enum SnapshotFormat: String, CaseIterable, Sendable {
    /// The view without color, routes as glyphs.
    case txt
    /// The view with truecolor ANSI escapes, for `less -R` or `cat`.
    case ansi
    /// A figure for papers (`SVGFigure`).
    case svg
    /// The data behind the view (`SnapshotJSON`).
    case json
}

/// Writes snapshots without ever replacing a file: each file is written to a temporary file in
/// the target folder, flushed, then hard-linked to its final name (which fails if the name is
/// taken, even by a writer racing this one) and the temporary removed.
public enum SnapshotWriter {
    /// Names are tried up to `duoscope-<view>-9999`.
    static let lastNumber = 9999

    /// The text of one snapshot file.
    public static func render(_ format: SnapshotFormat, _ c: SnapshotContent) -> String {
        switch format {
        case .txt: return c.plainGrid.text
        case .ansi: return ANSIRenderer.render(c.colorGrid, depth: .truecolor)
        case .svg: return SVGFigure.render(c)
        case .json: return SnapshotJSON.render(c)
        }
    }

    /// Writes `formats` as `duoscope-<view>-NNN.<ext>` into `folder` (created if needed), with the
    /// first NNN (001, 002, ...) for which none of the files exists. Returns the files written.
    @discardableResult
    public static func write(_ c: SnapshotContent, to folder: URL, formats: [SnapshotFormat] = SnapshotFormat.allCases) throws -> [URL] {
        try createFolder(folder)
        var temporaries: [URL] = []
        defer { for url in temporaries { unlink(url.path) } }
        for format in formats {
            temporaries.append(try writeTemporary(Data(render(format, c).utf8), in: folder, suffix: format.rawValue))
        }
        for number in 1...lastNumber {
            let stem = "duoscope-\(c.view.name)-" + String(format: "%03d", number)
            let targets = formats.map { folder.appendingPathComponent("\(stem).\($0.rawValue)") }
            if targets.contains(where: { FileManager.default.fileExists(atPath: $0.path) }) { continue }
            if try linkAll(temporaries, to: targets) { return targets }
        }
        throw DuoError("cannot write snapshot: every name up to duoscope-\(c.view.name)-\(lastNumber) is taken", file: folder.path)
    }

    /// Writes `text` to `url` atomically; an existing file is never replaced.
    public static func writeSingle(_ text: String, to url: URL) throws {
        try createFolder(url.deletingLastPathComponent())
        let temporary = try writeTemporary(Data(text.utf8), in: url.deletingLastPathComponent(), suffix: url.pathExtension)
        defer { unlink(temporary.path) }
        guard systemLink(temporary.path, url.path) == 0 else {
            if errno == EEXIST { throw DuoError("exists; choose another --out", file: url.path) }
            throw DuoError("cannot write snapshot: \(reason())", file: url.path)
        }
    }

    /// Links every temporary to its target. If a target appeared meanwhile, removes the links made
    /// so far and returns false, so the caller tries the next name.
    static func linkAll(_ temporaries: [URL], to targets: [URL]) throws -> Bool {
        var linked: [URL] = []
        for (temporary, target) in zip(temporaries, targets) {
            guard systemLink(temporary.path, target.path) == 0 else {
                let error = errno
                for url in linked { unlink(url.path) }
                if error == EEXIST { return false }
                throw DuoError("cannot write snapshot: \(String(cString: strerror(error)))", file: target.path)
            }
            linked.append(target)
        }
        return true
    }

    static func createFolder(_ folder: URL) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DuoError("cannot write snapshot: cannot create the folder (\(error.localizedDescription))", file: folder.path)
        }
    }

    /// A new, fully written and flushed file with a hidden unique name in `folder`.
    static func writeTemporary(_ data: Data, in folder: URL, suffix: String) throws -> URL {
        let name = ".duoscope-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).\(suffix).tmp"
        let temporary = folder.appendingPathComponent(name)
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw DuoError("cannot write snapshot: \(reason())", file: folder.path) }
        var failure = writeAll(data, to: fd)
        if failure == nil, fsync(fd) != 0 { failure = reason() }
        close(fd)
        if let failure {
            unlink(temporary.path)
            throw DuoError("cannot write snapshot: \(failure)", file: folder.path)
        }
        return temporary
    }

    /// Writes all of `data`; returns the reason on failure.
    static func writeAll(_ data: Data, to fd: Int32) -> String? {
        data.withUnsafeBytes { raw -> String? in
            var written = 0
            while written < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return reason()
                }
                written += n
            }
            return nil
        }
    }

    /// The current `errno` in words.
    static func reason() -> String { String(cString: strerror(errno)) }
}
