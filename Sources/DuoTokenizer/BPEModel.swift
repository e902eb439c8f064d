import Foundation

/// A byte-pair-encoding model (tokenizer.json `model` of type BPE): turns one pre-tokenized word
/// into ids by repeatedly merging the adjacent pair with the lowest merge rank, leftmost first,
/// exactly as Hugging Face `tokenizers` does. With `byte_fallback`, a character missing from the
/// vocab becomes the `<0xAB>` tokens of its UTF-8 bytes (when all of them exist; else unk).
/// Results are cached per word.
final class BPEModel: @unchecked Sendable {  // mutable state (the cache) is guarded by `lock`
    /// Token (exact UTF-8 bytes) -> id.
    let vocab: [[UInt8]: Int]
    /// Id -> token (exact UTF-8 bytes); the first entry in file order when ids repeat.
    let tokenById: [Int: [UInt8]]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    let mergeCount: Int
    let unkId: Int?
    let fuseUnk: Bool
    let continuingSubwordPrefix: [UInt8]?
    let endOfWordSuffix: [UInt8]?
    let ignoreMerges: Bool
    /// With byte_fallback: the id of the token `<0xAB>` for each byte 0xAB (-1: not in the vocab).
    let byteIds: [Int32]?
    /// Ids of single-character tokens (used when there is no prefix/suffix to add).
    private let charIds: [Unicode.Scalar: Int32]

    private let lock = NSLock()
    private var cache: [[Unicode.Scalar]: [Int32]] = [:]
    private static let cacheLimit = 200_000

    struct Config {
        var vocab: [([UInt8], Int)]
        var merges: [([UInt8], [UInt8])]
        var unkToken: [UInt8]?
        var fuseUnk = false
        var continuingSubwordPrefix: [UInt8]?
        var endOfWordSuffix: [UInt8]?
        var ignoreMerges = false
        var byteFallback = false
    }

    /// The vocab entry Hugging Face's byte fallback looks up for `byte`, e.g. "<0x0A>".
    static func byteToken(_ byte: UInt8) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        return Array("<0x".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)], UInt8(ascii: ">")]
    }

    /// Problems found while building the model; the caller adds the file name.
    struct BuildError: Error { var message: String }

    init(_ config: Config) throws {
        var vocab: [[UInt8]: Int] = [:]
        vocab.reserveCapacity(config.vocab.count)
        var tokenById: [Int: [UInt8]] = [:]
        tokenById.reserveCapacity(config.vocab.count)
        for (token, id) in config.vocab {
            vocab[token] = id  // a repeated key: the last one wins, as in serde
        }
        for (token, id) in config.vocab where tokenById[id] == nil && vocab[token] == id {
            tokenById[id] = token
        }
        var charIds: [Unicode.Scalar: Int32] = [:]
        for (token, id) in vocab {
            let scalars = String(decoding: token, as: UTF8.self).unicodeScalars
            if scalars.count == 1, let s = scalars.first { charIds[s] = Int32(id) }
        }
        let prefixLength = config.continuingSubwordPrefix?.count ?? 0
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(config.merges.count)
        for (rank, pair) in config.merges.enumerated() {
            let (a, b) = pair
            guard let aId = vocab[a] else {
                throw BuildError(
                    message: "merge \(rank) (\(BPEModel.show(a)) \(BPEModel.show(b))) uses \(BPEModel.show(a)), which is not in the vocab")
            }
            guard let bId = vocab[b] else {
                throw BuildError(
                    message: "merge \(rank) (\(BPEModel.show(a)) \(BPEModel.show(b))) uses \(BPEModel.show(b)), which is not in the vocab")
            }
            guard b.count >= prefixLength else {
                throw BuildError(message: "merge \(rank): \(BPEModel.show(b)) is shorter than continuing_subword_prefix")
            }
            let merged = a + b[prefixLength...]
            guard let newId = vocab[merged] else {
                throw BuildError(
                    message:
                        "merge \(rank) (\(BPEModel.show(a)) \(BPEModel.show(b))) makes \(BPEModel.show(merged)), which is not in the vocab")
            }
            merges[UInt64(aId) << 32 | UInt64(bId)] = UInt64(rank) << 32 | UInt64(newId)  // a repeated pair: the last one wins
        }
        var unkId: Int?
        if let unk = config.unkToken {
            guard let id = vocab[unk] else {
                throw BuildError(message: "unk_token \(BPEModel.show(unk)) is not in the vocab")
            }
            unkId = id
        }
        self.vocab = vocab
        self.tokenById = tokenById
        self.merges = merges
        self.mergeCount = config.merges.count
        self.unkId = unkId
        self.fuseUnk = config.fuseUnk
        self.continuingSubwordPrefix = config.continuingSubwordPrefix
        self.endOfWordSuffix = config.endOfWordSuffix
        self.ignoreMerges = config.ignoreMerges
        if config.byteFallback {
            self.byteIds = (0...255).map { b in vocab[BPEModel.byteToken(UInt8(b))].map { Int32(truncatingIfNeeded: $0) } ?? -1 }
        } else {
            self.byteIds = nil
        }
        self.charIds = charIds
    }

    static func show(_ token: [UInt8]) -> String {
        "\"" + String(decoding: token, as: UTF8.self) + "\""
    }

    /// Appends the ids of one word (already in the model's alphabet, e.g. byte-level characters).
    func encode(word: [Unicode.Scalar], into out: inout [Int]) {
        if word.isEmpty { return }
        lock.lock()
        let hit = cache[word]
        lock.unlock()
        if let hit {
            for id in hit { out.append(Int(id)) }
            return
        }
        let ids = computeIds(word)
        lock.lock()
        if cache.count >= BPEModel.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[word] = ids
        lock.unlock()
        for id in ids { out.append(Int(id)) }
    }

    private func computeIds(_ word: [Unicode.Scalar]) -> [Int32] {
        if ignoreMerges, let id = vocab[UTF8Bytes.of(word)] {
            return [Int32(id)]
        }
        // Initial symbols: one per character (with prefix/suffix), unknown characters as unk.
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var pendingUnk: Int32? = nil
        let plain = continuingSubwordPrefix == nil && endOfWordSuffix == nil
        for (k, ch) in word.enumerated() {
            var id: Int32?
            var key: [UInt8] = []
            if plain {
                id = charIds[ch]
            } else {
                if k > 0, let p = continuingSubwordPrefix { key += p }
                UTF8Bytes.append(CollectionOfOne(ch), to: &key)
                if k == word.count - 1, let s = endOfWordSuffix { key += s }
                id = vocab[key].map { Int32($0) }
            }
            if let id {
                if let u = pendingUnk {
                    symbols.append(u)
                    pendingUnk = nil
                }
                symbols.append(id)
                continue
            }
            if let byteIds {
                // The bytes of the symbol as looked up (with prefix/suffix). As in Hugging Face, a
                // pending unk is not flushed first: it follows these byte tokens.
                if plain { UTF8Bytes.append(CollectionOfOne(ch), to: &key) }
                if key.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                    for b in key { symbols.append(byteIds[Int(b)]) }
                    continue
                }
            }
            if let unkId {
                if pendingUnk != nil && !fuseUnk { symbols.append(pendingUnk!) }
                pendingUnk = Int32(unkId)
            }
            // no unk token: the character is dropped, as in Hugging Face
        }
        if let u = pendingUnk { symbols.append(u) }
        return merge(symbols)
    }

    @inline(__always)
    private func lookup(_ a: Int32, _ b: Int32) -> UInt64? {
        merges[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))]
    }

    /// Applies merges: always the pair with the lowest rank, leftmost among equals.
    private func merge(_ initial: [Int32]) -> [Int32] {
        let n = initial.count
        if n < 2 { return initial }
        var sym = initial
        var next = [Int32](repeating: -1, count: n)
        var prev = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }
        // Min-heap of (rank << 32 | position).
        var heap: [UInt64] = []
        heap.reserveCapacity(n)
        func push(_ v: UInt64) {
            heap.append(v)
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if heap[p] <= heap[c] { break }
                heap.swapAt(p, c)
                c = p
            }
        }
        func pop() -> UInt64 {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var p = 0
                let count = heap.count
                while true {
                    let l = 2 * p + 1
                    if l >= count { break }
                    let r = l + 1
                    let c = (r < count && heap[r] < heap[l]) ? r : l
                    if heap[p] <= heap[c] { break }
                    heap.swapAt(p, c)
                    p = c
                }
            }
            return top
        }
        for i in 0..<(n - 1) {
            if let m = lookup(sym[i], sym[i + 1]) { push((m >> 32) << 32 | UInt64(i)) }
        }
        while !heap.isEmpty {
            let top = pop()
            let rank = top >> 32
            let pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos] else { continue }
            let right = Int(next[pos])
            guard right >= 0, let m = lookup(sym[pos], sym[right]), m >> 32 == rank else { continue }
            sym[pos] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[right] = false
            let after = next[right]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0, let m2 = lookup(sym[before], sym[pos]) { push((m2 >> 32) << 32 | UInt64(before)) }
            if after >= 0, let m3 = lookup(sym[pos], sym[Int(after)]) { push((m3 >> 32) << 32 | UInt64(pos)) }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var i: Int32 = 0
        while i >= 0 {
            out.append(sym[Int(i)])
            i = next[Int(i)]
        }
        return out
    }
}
