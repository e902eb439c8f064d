#!/usr/bin/env python3
"""Generate the tokenizer fixtures checked by Tests/DuoTokenizerTests/TokenizerTests.swift.

Trains two tiny byte-level BPE tokenizers with Hugging Face `tokenizers` on the built-in corpus
below (single-threaded, so the result is deterministic), derives a few variants from them, and
records what HF itself answers for a list of tricky strings, so the Swift tokenizer can be
compared id for id.

Writes Tests/Fixtures/tokenizer/:
  gpt2-style.json                   ByteLevel(gpt2 regex) pre-tokenizer, special tokens in the model
                                    vocab, lstrip/rstrip added tokens; merges as [a, b] pairs
  gpt2-variant.json                 same vocab/merges; NFKC+Lowercase normalizer,
                                    Sequence[Digits, ByteLevel(add_prefix_space)], BertProcessing,
                                    a normalized added token
  llama3-style.json                 Sequence[Split(llama3 regex), ByteLevel(use_regex=false)],
                                    ignore_merges, special tokens after the model vocab,
                                    TemplateProcessing; merges as [a, b] pairs
  llama3-style-legacy-merges.json   the same tokenizer with merges as "a b" strings, written
                                    with \\u escapes (ensure_ascii)
  cases.json                        per tokenizer: encode/decode results from HF; plus
                                    pre-tokenizer configurations with HF's pre_tokenize_str pieces

Usage: python3 scripts/make_tokenizer_fixtures.py
       python3 scripts/make_tokenizer_fixtures.py --reference TOKENIZER_JSON TEXT_FILE OUT_JSON
The second form records HF's ids for a large text with any tokenizer.json (for example a real
model's); `DUO_TOKENIZER_REFERENCE=OUT_JSON swift test --filter TokenizerTests` then compares the
Swift tokenizer with them and reports its speed. Such files are not committed.
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "tokenizer"

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog didn't care; it's been there before.
Once upon a time, in a small village by the sea, there lived an old fisherman and his wife.
Every morning he went out with his boat, and every evening he came back with the catch of the day.
"What's for dinner?" she asked. "Fish again," he said, "but I'll cook it differently tonight."
They've lived like this for forty-two years, and they'd never once argued about the weather.
We're going to the market on Saturday at 10:30 AM; the bus costs $2.50 per person.
In 1969, humans first walked on the Moon. In 2024, the population was about 8,100,000,000.
Call 555-0123 or e-mail info@example.com before 31/12/2025 to get 15% off your order #4521.
def tokenize(text: str) -> list[int]:
    return [vocab[t] for t in text.split()]  # a simple whitespace tokenizer
for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }
if x == 0 && y != 1 || z >= 3 { return nil }
let greeting = "Hello, World!"; print(greeting.count)
<html><body><p class="note">Tokenizers split text into pieces.</p></body></html>
SELECT name, age FROM users WHERE age > 21 ORDER BY name;
THE CAPITAL LETTERS ARE SHOUTING. Mixed CaSe WoRdS appear sometimes.
Le café est très bon, mais la crème brûlée est meilleure. Où est la bibliothèque ?
Ich möchte ein Brötchen mit Käse, bitte. Die Straße ist groß und schön.
El niño comió una manzana. ¿Dónde está la estación? ¡Qué día tan bonito!
Привет, как дела? Москва — столица России. Я люблю читать книги.
Καλημέρα κόσμε. Η γλώσσα είναι όμορφη. Αθήνα.
日本語のテキストを分割します。東京は大きな都市です。ありがとうございます。
中文测试：今天天气很好，我们去公园散步吧。北京欢迎你。
한국어 문장입니다. 감사합니다. 안녕하세요.
مرحبا بالعالم. هذه جملة عربية.
Emoji time 😀 😃 😄 👍 👍🏽 ❤️ 🎉 🚀 and flags 🇺🇸 🇫🇷 🇯🇵 and family 👨‍👩‍👧‍👦.
Math: π ≈ 3.14159, e ≈ 2.71828, √2 ≈ 1.41421, ∑ x² = ∞ and ½ + ¼ = ¾.
Tabs\tand  double  spaces,   triple   spaces, and a line with trailing spaces   
Windows line endings\r\nare here\r\nand there.
The end. Thanks for reading! Don't forget: WE'LL meet again, YOU'RE welcome, I'M sure.
"""

TEXTS = [
    "",
    " ",
    "a",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "don't I'll WE'RE they've she'd he's it'S I'M YOU'D we'LL",
    "'s 's' 'sup ''ll",
    "Héllo café naïve résumé Ångström",
    "e\u0301 decomposed cafe\u0301 vs café",
    "日本語のテキスト、東京。",
    "中文测试：你好，世界！",
    "한국어 문장",
    "Привет, мир! Γειά σου κόσμε. مرحبا",
    "😀 😃 😄 👍🏽 ❤️",
    "👨‍👩‍👧‍👦 family 🧑🏾‍💻 coder",
    "🇺🇸🇫🇷🇯🇵 flags",
    "12345678901234567890",
    "3.14159 and 2,718,281 and 1e-10 and ١٢٣ and ½Ⅻ",
    "a  b   c    d     e",
    "\t\ttabs\tand\ttabs\t",
    "line1\nline2\n\nline3\n\n\n",
    "crlf\r\nline\r\n\r\nend\r",
    "  leading spaces",
    "trailing spaces   ",
    "   ",
    "\n",
    "\r\n\r\n",
    " \n \n ",
    "<|endoftext|>",
    "Hello<|endoftext|>world",
    " <|endoftext|> <|pad|>",
    "<|pad|><|pad|><|endoftext|",
    "text <mask> masked and <mask>glued   <mask>",
    "[[user]]   hi [[user]]x",
    "<|begin_of_text|>Hi<|eot_id|>  <|end_of_text|>",
    "a<tool>b <tool> <tool>. [INST]do it[/INST]",
    "Hello World and HELLO WORLD and hello world",
    "quixotic quixotic! zyzzyva Zyzzyva😀",
    "code: def f(x):\n    return x**2  # comment",
    "URL https://example.com/path?q=1&r=2#frag",
    "ALL CAPS SHOUTING and MiXeD CaSe",
    "mixed123numbers456and7890",
    "\u00a0nbsp\u00a0\u00a0and\u3000ideographic\u3000",
    "\u2028line sep\u2029para sep\u0085nel\u000bvt\u000cff",
    "ſ'ſ 'ſ K ﬆ ß ẞ İ",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "\U0001F600\U0001F600\U0001F600\U0001F600",
    "x" * 300,
    # Unicode-version edges: letters/digits new in Unicode 17 (unknown to HF's regex engine, but
    # numeric for Rust's Digits), combining marks newer than HF's Unicode 9 normalization tables,
    # reordering, non-BMP bases before combining marks, compatibility forms.
    "\u088f'S \U00011de0\U00011de1 x\ua7ce",
    "a\u07fd\u0301 a\u05b0\u0301 \u0f73\u0f73 \u1df6\u0301",
    "\U00010041\u0301 \U0001d400\u11a8 \U0001d400 ſ ½ ﬁ Ⅻ \uff9e\u0301",
    "   \t  \n\t \r\n  x  ",
    ("Once upon a time, in a small village by the sea, there lived an old fisherman "
     "and his wife. Every morning he went out with his boat — rain or shine — and every "
     "evening he came back with the catch of the day: 3 cod, 12 herrings, sometimes "
     "nothing at all. \"We'll manage,\" she'd say. They've lived like this for 42 years.\n\n"
     "Le café était très bon. 日本語も少し。Emoji 🎉🚀 and numbers 1234567.\r\n") * 3,
]

FUZZ_PIECES = [
    "a", "b", "Z", "the", " the", "hello", "World", "é", "e\u0301", "\u0301", "ſ", "K", "ß",
    " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b",
    "'", "'s", "'S", "'ll", "'LL", "'re", "'ve", "'d", "'m", "'t",
    "1", "23", "4567", "٣", "½", "Ⅻ", "😀", "👍🏽", "\u200d", "🇺", "🇸", "日", "本", "語",
    "!", "?", ".", ",", "-", "_", "$", "#", "(", ")", "...", "—",
    "<|endoftext|>", "<|pad|>", "<mask>", "[[user]]", "<|eot_id|>", "<tool>", "[INST]",
    "\ufeff", "\U0001F9D1", "x", "y", "quixotic", "Hello World", "ＡＢＣ", "ﬁ",
]


def fuzz_texts(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.randint(1, 14)
        out.append("".join(rng.choice(FUZZ_PIECES) for _ in range(n)))
    return out


def train(pre_tokenizer, vocab_size, special_tokens, ignore_merges):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = CORPUS.split("\n")
    tok.train_from_iterator(lines, trainer)
    return tok


def byte_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def build_gpt2_style():
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), 600,
                ["<|endoftext|>", "<|pad|>"], ignore_merges=False)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    tok.add_tokens([AddedToken("[[user]]", rstrip=True, normalized=False, special=False)])
    return tok


def build_gpt2_variant(gpt2_json):
    j = json.loads(gpt2_json)
    j["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    ]}
    tok = Tokenizer.from_str(json.dumps(j))
    tok.add_tokens([AddedToken("Hello World", normalized=True, special=False)])
    cls = tok.token_to_id("<|endoftext|>")
    sep = tok.token_to_id("<|pad|>")
    tok.post_processor = processors.BertProcessing(("<|pad|>", sep), ("<|endoftext|>", cls))
    return tok


def build_llama3_style():
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok = train(pre, 700, [], ignore_merges=True)
    j = json.loads(tok.to_str())
    assert j["model"]["ignore_merges"] is True
    # Whole words that are in the vocab but that the merges would not build: only `ignore_merges`
    # makes them come out as one token.
    vocab = j["model"]["vocab"]
    for word in ["Ġquixotic", "quixotic", "zyzzyva", "ĠZyzzyva", "ðŁĺĢðŁĺĢ"]:
        vocab[word] = len(vocab)
    tok = Tokenizer.from_str(json.dumps(j))
    tok.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"])
    tok.add_tokens([
        AddedToken("<tool>", single_word=True, normalized=True, special=False),
        AddedToken("[INST]", rstrip=True, normalized=True, special=False),
    ])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return tok


def legacy_merges(tok_json):
    j = json.loads(tok_json)
    merges = j["model"]["merges"]
    assert merges and isinstance(merges[0], list), "expected [a, b] merges from this tokenizers version"
    j["model"]["merges"] = [f"{a} {b}" for a, b in merges]
    return json.dumps(j, ensure_ascii=True, separators=(",", ":"))


def max_id_plus_one(tok_json):
    j = json.loads(tok_json)
    ids = list(j["model"]["vocab"].values()) + [t["id"] for t in j["added_tokens"]]
    return max(ids) + 1


def record(name, filename, text, texts, decode_seed):
    tok = Tokenizer.from_str(text)  # exactly what the Swift side loads
    j = json.loads(text)
    size = max_id_plus_one(text)
    cases = []
    for t in texts:
        enc = tok.encode(t, add_special_tokens=False).ids
        enc_special = tok.encode(t, add_special_tokens=True).ids
        cases.append({"text": t, "ids": enc, "ids_special": enc_special, "decoded": tok.decode(enc, skip_special_tokens=False)})
    rng = random.Random(decode_seed)
    decode_cases = []
    for _ in range(40):
        ids = [rng.randrange(size + 3) for _ in range(rng.randint(1, 8))]  # a few ids past the end: skipped
        decode_cases.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    bd = byte_decoder()
    added = {t["id"]: t["content"] for t in j["added_tokens"]}
    vocab_r = {v: k for k, v in j["model"]["vocab"].items()}
    token_bytes = []
    for i in range(size):
        if i in added:
            token_bytes.append(added[i].encode("utf-8").hex())
        elif i in vocab_r:
            token_bytes.append(bytes(bd[c] for c in vocab_r[i]).hex())
        else:
            token_bytes.append("")
    return {
        "name": name,
        "file": filename,
        "vocab_size": size,
        "merge_count": len(j["model"]["merges"]),
        "added_tokens": [t["content"] for t in sorted(j["added_tokens"], key=lambda t: t["id"])],
        "special_tokens": [t["content"] for t in sorted(j["added_tokens"], key=lambda t: t["id"]) if t["special"]],
        "cases": cases,
        "decode_cases": decode_cases,
        "token_bytes": token_bytes,
    }


PRETOKENIZER_TEXTS = [
    "", "Hello world", "  two  spaces  ", "a-b--c-", "-x-", "abc123def4567", "don't WE'LL it'ſ",
    "tab\tnew\nline\r\n\r\ncrlf", "x\u00a0\u00a0y\u3000z", "😀👍🏽 🇺🇸 👨‍👩‍👧", "12345 678", "   ", "\n\n",
    "ab ABB abb aB", "...!!! ??", "中文，日本語。",
]


def pretokenizer_configs():
    configs = []
    for behavior in ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        for invert in [False, True]:
            configs.append({"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": behavior, "invert": invert})
        configs.append({"type": "Split", "pattern": {"String": "-"}, "behavior": behavior, "invert": False})
    configs.append({"type": "Split", "pattern": {"String": "ab"}, "behavior": "Removed", "invert": True})
    configs.append({"type": "Digits", "individual_digits": True})
    configs.append({"type": "Digits", "individual_digits": False})
    configs.append({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    configs.append({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False})
    configs.append({"type": "Split", "pattern": {"Regex": GPT2_PATTERN}, "behavior": "Isolated", "invert": False})
    configs.append({"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Removed", "invert": False})
    configs.append({"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False})
    configs.append({"type": "Split", "pattern": {"Regex": "(?i)ab+"}, "behavior": "MergedWithNext", "invert": False})
    configs.append({"type": "Split", "pattern": {"Regex": "[\\p{P}\\s]"}, "behavior": "Isolated", "invert": False})
    configs.append({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}+"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False},
    ]})
    return configs


def record_pretokenizers(base_json, texts):
    out = []
    for config in pretokenizer_configs():
        j = json.loads(base_json)
        j["pre_tokenizer"] = config
        pre = Tokenizer.from_str(json.dumps(j)).pre_tokenizer
        cases = [{"text": t, "pieces": [p for p, _ in pre.pre_tokenize_str(t)]} for t in texts]
        out.append({"config": json.dumps(config, ensure_ascii=False), "cases": cases})
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gpt2 = build_gpt2_style().to_str()
    variant = build_gpt2_variant(gpt2).to_str()
    llama = build_llama3_style().to_str()
    llama_legacy = legacy_merges(llama)
    files = [
        ("gpt2-style", "gpt2-style.json", gpt2),
        ("gpt2-variant", "gpt2-variant.json", variant),
        ("llama3-style", "llama3-style.json", llama),
        ("llama3-style-legacy-merges", "llama3-style-legacy-merges.json", llama_legacy),
    ]
    texts = TEXTS + fuzz_texts(120, seed=20240601)
    result = {
        "generator": "scripts/make_tokenizer_fixtures.py",
        "tokenizers_version": tokenizers.__version__,
        "tokenizers": [],
        "pretokenizers": record_pretokenizers(gpt2, PRETOKENIZER_TEXTS + fuzz_texts(25, seed=7)),
    }
    for k, (name, filename, text) in enumerate(files):
        (OUT / filename).write_text(text, encoding="utf-8")
        entry = record(name, filename, text, texts, decode_seed=100 + k)
        previous = result["tokenizers"][-1] if result["tokenizers"] else None
        if previous and previous["name"] == "llama3-style" and name == "llama3-style-legacy-merges":
            # Same tokenizer, other merges serialization: HF must agree with itself; the Swift
            # test checks this file against the same recorded cases.
            assert entry["cases"] == previous["cases"] and entry["token_bytes"] == previous["token_bytes"]
            entry["cases"] = "same as llama3-style"
            entry["token_bytes"] = "same as llama3-style"
        result["tokenizers"].append(entry)
    with open(OUT / "cases.json", "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    for p in sorted(OUT.iterdir()):
        print(f"{p.stat().st_size:8d}  {p.relative_to(OUT.parent.parent.parent)}")


def reference(tokenizer_path, text_path, out_path):
    tok = Tokenizer.from_file(tokenizer_path)
    with open(text_path, encoding="utf-8", newline="") as f:  # keep "\r\n" as is
        text = f.read()
    start = time.perf_counter()
    ids = tok.encode(text, add_special_tokens=False).ids
    seconds = time.perf_counter() - start
    mb = len(text.encode("utf-8")) / 1e6
    print(f"HF tokenizers {tokenizers.__version__}: {mb:.1f} MB in {seconds:.2f} s = {mb / seconds:.2f} MB/s, {len(ids)} tokens")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"tokenizer": str(Path(tokenizer_path).resolve()), "text_file": str(Path(text_path).resolve()),
                   "ids": ids, "hf_seconds": seconds}, f)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--reference":
        reference(*sys.argv[2:])
    else:
        main()
