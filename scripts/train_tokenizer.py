#!/usr/bin/env python3
"""Train the sample model's tokenizer: a GPT-2 style byte-level BPE on data/corpus/train.txt.

  vocab: 4096 entries in all = <|endoftext|> (id 0) + the 256 byte symbols + 3839 merges
  pre-tokenizer: ByteLevel(add_prefix_space=False, use_regex=True)   (the GPT-2 split regex)
  decoder: ByteLevel; no normalizer, no post-processor
  initial alphabet: ByteLevel.alphabet(), so every byte is encodable; min_frequency 2

Training sees only the training split (one document at a time, in file order, each with the
newline that separates it from the next), single-threaded, so the output file is reproducible
byte for byte. Afterwards it reports tokens/char and tokens/word on both splits and checks that
decode(encode(s)) == s for the whole validation text and for every validation document.

Build the corpus first with scripts/prepare-corpus.sh.

Usage: python3 scripts/train_tokenizer.py [--corpus data/corpus] [--out sample-models/duo-12L/tokenizer.json]
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"          # deterministic training
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VOCAB_SIZE = 4096
EOT = "<|endoftext|>"


def documents(text):
    """The corpus's documents (blank-line separated), each with its trailing newline."""
    return [d + "\n" for d in text.rstrip("\n").split("\n\n")]


def train(train_text):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # every document followed by the newline of the blank line that separates documents
    tok.train_from_iterator([d + "\n" for d in documents(train_text)], trainer)
    return tok


def count_tokens(tok, docs):
    return sum(len(e.ids) for e in tok.encode_batch(docs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(ROOT / "data" / "corpus"),
                    help="folder holding train.txt and valid.txt (default: data/corpus)")
    ap.add_argument("--out", default=str(ROOT / "sample-models" / "duo-12L" / "tokenizer.json"),
                    help="tokenizer.json to write (default: sample-models/duo-12L/tokenizer.json)")
    args = ap.parse_args()

    corpus = Path(args.corpus)
    try:
        train_text = (corpus / "train.txt").read_text(encoding="utf-8")
        valid_text = (corpus / "valid.txt").read_text(encoding="utf-8")
    except FileNotFoundError as e:
        sys.exit(f"error: {e.filename} not found; run scripts/prepare-corpus.sh first")

    tok = train(train_text)

    vocab = tok.get_vocab()
    n_vocab = tok.get_vocab_size()
    if n_vocab != VOCAB_SIZE or vocab.get(EOT) != 0:
        sys.exit(f"error: vocab size {n_vocab}, {EOT} id {vocab.get(EOT)}; expected {VOCAB_SIZE} and 0")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(out))

    # reload what was written and report on it
    tok = Tokenizer.from_file(str(out))
    import json
    model = json.loads(out.read_text(encoding="utf-8"))["model"]
    n_merges = len(model["merges"])
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest})")
    print(f"vocab size {tok.get_vocab_size()} ({EOT}=0, 256 byte symbols, {n_merges} merges)")

    for name, text in (("train", train_text), ("valid", valid_text)):
        docs = documents(text)
        n_tok = count_tokens(tok, docs)
        n_char = len(text)
        n_word = len(text.split())
        print(f"  {name}: {len(docs):6d} docs {n_char:9d} chars {n_word:8d} words "
              f"{n_tok:8d} tokens  {n_tok / n_char:.4f} tok/char  {n_tok / n_word:.3f} tok/word  "
              f"{n_char / n_tok:.2f} chars/tok")

    # round trip on the whole validation text, and on each validation document
    enc = tok.encode(valid_text)
    if tok.decode(enc.ids, skip_special_tokens=False) != valid_text:
        sys.exit("error: round trip failed on the whole validation text")
    bad = [i for i, d in enumerate(documents(valid_text))
           if tok.decode(tok.encode(d).ids, skip_special_tokens=False) != d]
    if bad:
        sys.exit(f"error: round trip failed on {len(bad)} validation documents (first: {bad[0]})")
    # every byte has its own symbol, so any string is encodable
    missing = [c for c in pre_tokenizers.ByteLevel.alphabet() if c not in tok.get_vocab()]
    if missing:
        sys.exit(f"error: {len(missing)} byte symbols missing from the vocab")
    odd = "".join(map(chr, range(256))) + " caf\u00e9 \u65e5\u672c \U0001f600\u200d\U0001f44d \r\n\t"
    if tok.decode(tok.encode(odd).ids) != odd:
        sys.exit("error: round trip failed on the byte/unicode sample")
    print(f"round trip ok: whole validation text ({len(enc.ids)} tokens), every validation document, "
          f"a byte/unicode sample")


if __name__ == "__main__":
    main()
