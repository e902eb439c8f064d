#!/usr/bin/env python3
"""Generate the Llama-2 / Mistral-family tokenizer fixtures checked by
Tests/DuoTokenizerTests/LlamaTokenizerTests.swift.

Trains one small BPE model with Hugging Face `tokenizers` on the corpus of
make_tokenizer_fixtures.py (single-threaded, so the result is deterministic), with the 256 byte
tokens <0x00>..<0xFF> right after <unk>, <s>, </s> as in Llama 2's vocabulary, then writes it
under several configurations and records what HF itself answers (ids, ids with the template,
decoded text, pre_tokenize_str pieces), so the Swift tokenizer can be compared id for id.

Writes Tests/Fixtures/tokenizer/:
  llama2-style.json           Llama 2 / TinyLlama: BPE byte_fallback + unk <unk> + fuse_unk,
                              normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], no
                              pre-tokenizer, decoder Sequence[Replace("▁", " "), ByteFallback, Fuse,
                              Strip(" ", 1, 0)], TemplateProcessing "<s> $A"; plus a normalized
                              added token "[INST]" and a raw rstrip one "<<SYS>>"
  llama2-unk-fused.json       the same without byte_fallback: unknown characters become <unk>, fused
  llama2-unk-unfused.json     the same with fuse_unk false
  llama2-partial-bytes.json   byte_fallback with <0xF0>..<0xF4> renamed <0xf0>..<0xf4> (so 4-byte
                              characters fall back to <unk>, in HF's order) and fuse_unk false
  mistral-style.json          normalizer null, pre-tokenizer Metaspace(prepend_scheme "first",
                              split false), decoder Metaspace("first"); special [INST] [/INST]
  metaspace-first-strip.json  normalizer Strip(left, right), pre-tokenizer Sequence[Metaspace(first,
                              split true)], decoder Sequence[ByteFallback, Metaspace(first), Fuse]
  metaspace-always-split.json Metaspace(always, split true), Llama decoder, normalized added <tool>
  metaspace-always-nosplit.json  normalizer Replace("\\t", "    "), Metaspace(always, split false),
                              decoder Sequence[Metaspace(always), ByteFallback, Fuse]
  metaspace-never.json        pre-tokenizer Sequence[Digits(individual), Metaspace(never, split true)],
                              decoder Sequence[Metaspace(never), ByteFallback, Fuse, Strip(" ", 0, 1)]
  llama-cases.json            the texts, and per tokenizer HF's results; Metaspace pre-tokenizer
                              configurations with HF's pre_tokenize_str pieces

Usage: python3 scripts/make_llama_tokenizer_fixtures.py
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RUST_BACKTRACE"] = "0"

import json  # noqa: E402
import random  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

from make_tokenizer_fixtures import CORPUS, OUT, TEXTS  # noqa: E402

SPECIALS = ["<unk>", "<s>", "</s>"]
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]

LLAMA_TEXTS = [
    "Hello",
    " Hello",
    "  Hello  world  ",
    "Hello world",
    "\tHello\t\tworld\t",
    "crlf\r\nline\r\n",
    "\n",
    "\n\n\n",
    " ",
    "    ",
    "▁",
    "▁▁x▁",
    "a▁b ▁ c",
    "<0x41><0x0A> <0xZZ>",
    "龘 𠀋 𪚥 rare CJK",
    "🦀 crab 🫠 melting 🧬",
    "😀🦀😀",
    "🦀龘x",
    "🦀🫠🧬 龘𠀋𪚥",
    "日本語 and 中文 and 한국어 mixed with English, русский, ελληνικά.",
    "<s>",
    "<s>Hello</s>",
    "<s> Hello </s>",
    " <s>Hello",
    "Hello<s>world",
    "<unk>",
    "[INST] What is 2+2? [/INST] 4</s>",
    "[INST]hi[/INST]",
    "<<SYS>>\nYou are helpful.\n<</SYS>>  hi",
    "text <tool>call</tool> <tool>",
    "  leading",
    "trailing  ",
    "x\u00a0y\u3000z\u2028w",
    "0123456789 12 345",
    "naïve café e\u0301",
]

FUZZ_PIECES = [
    "a", "the", " the", "Hello", " ", "  ", "\t", "\n", "\r\n", "▁", "<s>", "</s>", "<unk>", "[INST]",
    "[/INST]", "<<SYS>>", "<tool>", "<0x41>", "😀", "🦀", "🫠", "龘", "日本", "é", "e\u0301", "ß", "1", "23",
    ".", ",", "!", "'", "\u00a0", "\u3000", "x", "quixotic",
]


def fuzz_texts(count, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 12))) for _ in range(count)]


def train_base():
    """The BPE vocab/merges every variant shares (trained with a Metaspace pre-tokenizer, so tokens
    start at word boundaries like SentencePiece's)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=760, special_tokens=SPECIALS + BYTE_TOKENS, show_progress=False)
    tok.train_from_iterator(CORPUS.split("\n"), trainer)
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    assert [vocab[t] for t in SPECIALS + BYTE_TOKENS] == list(range(259))
    # Llama 2 lists only <unk>, <s>, </s> as added tokens; the byte tokens are plain vocab entries.
    j["added_tokens"] = [t for t in j["added_tokens"] if t["content"] in SPECIALS]
    for t in j["added_tokens"]:
        assert t["special"] and not t["normalized"]
    j["pre_tokenizer"] = None
    j["decoder"] = None
    return j


LLAMA_DECODER = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])


def variant(base, model=None, added=(), **parts):
    """`base` with model fields and pipeline parts replaced, loaded by HF (parts set through the
    Python API, so they serialize as HF writes them)."""
    j = json.loads(json.dumps(base))
    j["model"].update(model or {})
    tok = Tokenizer.from_str(json.dumps(j))
    for name, value in parts.items():
        setattr(tok, name, value)
    if added:
        tok.add_tokens(list(added))
    return tok


def llama_template(tok):
    bos = tok.token_to_id("<s>")
    return processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)])


def build(base):
    llama_norm = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    llama_added = [AddedToken("[INST]", normalized=True, special=False),
                   AddedToken("<<SYS>>", normalized=False, rstrip=True, special=False)]
    out = []

    def add(name, tok, template=True):
        if template:
            tok.post_processor = llama_template(tok)
        out.append((name, tok.to_str()))

    add("llama2-style", variant(base, added=llama_added, normalizer=llama_norm, decoder=LLAMA_DECODER))
    add("llama2-unk-fused", variant(base, {"byte_fallback": False, "fuse_unk": True},
                                    normalizer=llama_norm, decoder=LLAMA_DECODER))
    add("llama2-unk-unfused", variant(base, {"byte_fallback": False, "fuse_unk": False},
                                      normalizer=llama_norm, decoder=LLAMA_DECODER))
    partial = json.loads(json.dumps(base))
    vocab = partial["model"]["vocab"]
    for b in range(0xF0, 0xF5):
        vocab[f"<0x{b:02x}>"] = vocab.pop(f"<0x{b:02X}>")
    add("llama2-partial-bytes", variant(partial, {"fuse_unk": False}, normalizer=llama_norm, decoder=LLAMA_DECODER))

    add("mistral-style", variant(
        base, added=[AddedToken("[INST]", special=True, normalized=False),
                     AddedToken("[/INST]", special=True, normalized=False)],
        pre_tokenizer=pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False),
        decoder=decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)))
    add("metaspace-first-strip", variant(
        base, normalizer=normalizers.Strip(left=True, right=True),
        pre_tokenizer=pre_tokenizers.Sequence([
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)]),
        decoder=decoders.Sequence([decoders.ByteFallback(),
                                   decoders.Metaspace(replacement="▁", prepend_scheme="first"), decoders.Fuse()])))
    add("metaspace-always-split", variant(
        base, added=[AddedToken("<tool>", normalized=True, special=False)],
        pre_tokenizer=pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        decoder=LLAMA_DECODER))
    add("metaspace-always-nosplit", variant(
        base, normalizer=normalizers.Replace("\t", "    "),
        pre_tokenizer=pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False),
        decoder=decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="always"),
                                   decoders.ByteFallback(), decoders.Fuse()])))
    add("metaspace-never", variant(
        base, pre_tokenizer=pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)]),
        decoder=decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="never"),
                                   decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 0, 1)])),
        template=False)
    return out


def decode_id_lists(size, seed):
    """Random id lists, many of them runs of byte tokens (valid and invalid UTF-8), a few ids past
    the end (skipped by HF)."""
    rng = random.Random(seed)
    lists = [
        [3 + 0xE6, 3 + 0x97, 3 + 0xA5],           # 日 as bytes
        [3 + 0xE6, 3 + 0x97],                      # truncated: one U+FFFD per byte
        [3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x80],  # 🦀
        [3 + 0x80, 3 + 0x41, 3 + 0xC3],            # invalid group with a valid byte inside
        [3 + 0x0A],
        [1, 3 + 0x0A, 2],
        [],
    ]
    for _ in range(60):
        n = rng.randint(1, 10)
        ids = []
        for _ in range(n):
            r = rng.random()
            if r < 0.45:
                ids.append(3 + rng.choice([rng.randrange(256), rng.randrange(0x80, 0xC0), 0xE6, 0xF0, 0x20, 0x0A]))
            elif r < 0.95:
                ids.append(rng.randrange(size))
            else:
                ids.append(size + rng.randrange(3))
        lists.append(ids)
    return lists


METASPACE_CONFIGS = [
    {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}
    for scheme in ["always", "first", "never"] for split in [True, False]
] + [
    {"type": "Metaspace", "replacement": "_", "prepend_scheme": "always", "split": True},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": False, "prepend_scheme": "never"},
    {"type": "Metaspace", "replacement": "▁"},
    {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": "-"}, "behavior": "Isolated", "invert": False},
        {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}]},
]

PRETOKENIZER_TEXTS = ["", "Hello world", "  two  spaces  ", " lead", "trail ", "a-b -c", "▁x▁ y", "\t tab\n",
                      "under_score x", "日本 語", "   "]


def record_pretokenizers(base):
    out = []
    for config in METASPACE_CONFIGS:
        j = json.loads(json.dumps(base))
        j["pre_tokenizer"] = config
        pre = Tokenizer.from_str(json.dumps(j)).pre_tokenizer
        cases = [[p for p, _ in pre.pre_tokenize_str(t)] for t in PRETOKENIZER_TEXTS]
        out.append({"config": json.dumps(config, ensure_ascii=False), "pieces": cases})
    return out


DECODER_TOKEN_LISTS = [
    [], ["<0x+A>"], ["<0xe6>", "<0x97>", "<0xA5>"], ["<0xE6>", "<0x97>", "x", "<0xA5>"], ["<0xZZ>", "<0x41>x", "<0X41>"],
    ["<0x41>", "<0x80>", "<0x42>"], ["<0x-1>", "<0x 1>", "<0xé>", "<0x4>"], ["▁a▁b", "▁c", "▁"], ["▁▁▁x", "  a  ", "b"],
    ["  ", "▁", " ▁ "], ["Ġthe", "Ċ", "<0x41>"], ["▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x80>", "▁x"],
]

DECODER_CONFIGS = [
    None,
    {"type": "ByteFallback"},
    {"type": "Fuse"},
    {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    {"type": "Replace", "pattern": {"String": "▁▁"}, "content": "_"},
    {"type": "Strip", "content": " ", "start": 2, "stop": 3},
    {"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Strip", "content": "▁", "start": 1, "stop": 1}]},
    {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
    {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
    {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": True},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
    {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "▁"}]},
    {"type": "Sequence", "decoders": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        {"type": "Replace", "pattern": {"String": "A"}, "content": "<0x42>"}, {"type": "ByteFallback"}]},
    {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
]


def record_decoders():
    """HF's decode of token lists under each decoder configuration (a vocab of exactly those tokens)."""
    vocab = {}
    for tokens in DECODER_TOKEN_LISTS:
        for t in tokens:
            vocab.setdefault(t, len(vocab))
    out = []
    for config in DECODER_CONFIGS:
        j = {"version": "1.0", "added_tokens": [], "decoder": config,
             "model": {"type": "BPE", "vocab": vocab, "merges": []}}
        text = json.dumps(j, ensure_ascii=False)
        tok = Tokenizer.from_str(text)
        decoded = [hf_decode(tok, [vocab[t] for t in tokens]) for tokens in DECODER_TOKEN_LISTS]
        out.append({"tokenizer": text, "decoded": decoded})
    return out


def hf_decode(tok, ids):
    """HF's decode, or None where HF panics (its Strip decoder indexes out of bounds when `stop`
    exceeds the length of a token made only of `content`, e.g. the empty text)."""
    try:
        return tok.decode(ids, skip_special_tokens=False)
    except BaseException as e:  # pyo3's PanicException derives from BaseException
        if type(e).__name__ != "PanicException":
            raise
        return None


def record(name, text, texts, seed):
    tok = Tokenizer.from_str(text)  # exactly what the Swift side loads
    j = json.loads(text)
    size = max(list(j["model"]["vocab"].values()) + [t["id"] for t in j["added_tokens"]]) + 1
    ids, ids_special, decoded = [], [], []
    for t in texts:
        e = tok.encode(t, add_special_tokens=False).ids
        ids.append(e)
        ids_special.append(tok.encode(t, add_special_tokens=True).ids)
        decoded.append(hf_decode(tok, e))
    decode_cases = [{"ids": d, "decoded": hf_decode(tok, d)}
                    for d in decode_id_lists(size, seed)]
    added = sorted(j["added_tokens"], key=lambda t: t["id"])
    return {
        "name": name,
        "file": name + ".json",
        "vocab_size": size,
        "added_tokens": [t["content"] for t in added],
        "special_tokens": [t["content"] for t in added if t["special"]],
        "ids": ids,
        "ids_special": ids_special,
        "decoded": decoded,
        "decode_cases": decode_cases,
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    base = train_base()
    texts = LLAMA_TEXTS + TEXTS + fuzz_texts(80, seed=20240707)
    result = {
        "generator": "scripts/make_llama_tokenizer_fixtures.py",
        "tokenizers_version": tokenizers.__version__,
        "texts": texts,
        "tokenizers": [],
        "pretokenizer_texts": PRETOKENIZER_TEXTS,
        "pretokenizers": record_pretokenizers(base),
        "decoder_token_lists": DECODER_TOKEN_LISTS,
        "decoders": record_decoders(),
    }
    for k, (name, text) in enumerate(build(base)):
        (OUT / (name + ".json")).write_text(text, encoding="utf-8")
        result["tokenizers"].append(record(name, text, texts, seed=300 + k))
    with open(OUT / "llama-cases.json", "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    for name in ["llama-cases"] + [t["name"] for t in result["tokenizers"]]:
        p = OUT / (name + ".json")
        print(f"{p.stat().st_size:8d}  {p.relative_to(OUT.parent.parent.parent)}")


if __name__ == "__main__":
    main()
