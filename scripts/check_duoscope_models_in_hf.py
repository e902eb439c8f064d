#!/usr/bin/env python3
"""Check that model directories written by duoscope load in HF transformers with equal losses.

For each model directory (written by `duoscope train`, with or without routers from
`duoscope train-router`), this loads it with the installed transformers (AutoModelForCausalLM,
float32, eager attention), checks that every tensor transformers expects was loaded from the file
(the only unexpected tensors being the small FFNs of a Duo model, which transformers ignores),
checks that HF `tokenizers` gives the ids duoscope gives, and compares transformers' per-token
losses with `duoscope route --policy big --format json --truncate` on the same text (its first
context-length tokens).

Usage: python3 scripts/check_duoscope_models_in_hf.py [--duoscope .build/release/duoscope]
           [--text "..." | --file TEXT_FILE] [--tolerance 1e-4] MODEL_DIR [MODEL_DIR ...]
Exit status 1 if any model differs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

DEFAULT_TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, "
                "it was the age of foolishness.")


def duoscope_losses(binary, model_dir, text_file):
    out = subprocess.run([binary, "route", model_dir, "--file", text_file, "--policy", "big", "--format", "json",
                          "--truncate"],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    ids = [t["id"] for t in report["tokens"]]
    losses = [t["loss"] for t in report["tokens"][:-1]]
    return ids, losses


def hf_losses(model_dir, ids):
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager",
                                                       output_loading_info=True)
    model.eval()
    unexpected = [k for k in info.get("unexpected_keys", []) if ".mlp_small." not in k]
    problems = [f"missing {k}" for k in info.get("missing_keys", [])] + [f"unexpected {k}" for k in unexpected]
    problems += [f"mismatched {k}" for k in info.get("mismatched_keys", [])]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].to(torch.float64)
    losses = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="none")
    return [float(x) for x in losses], problems, type(model).__name__


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--duoscope", default=".build/release/duoscope")
    ap.add_argument("--text", default=DEFAULT_TEXT)
    ap.add_argument("--file", help="a UTF-8 text file to score instead of --text")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    transformers.logging.set_verbosity_error()
    failed = False
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    text_file = args.file
    if text_file is None:
        text_file = os.path.join(tempfile.mkdtemp(), "text.txt")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(args.text)
    with open(text_file, encoding="utf-8") as f:
        text = f.read()
    for model_dir in args.models:
        ids, ours = duoscope_losses(args.duoscope, model_dir, text_file)
        theirs, problems, cls = hf_losses(model_dir, ids)
        hf_ids = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).encode(text, add_special_tokens=False).ids
        if hf_ids[:len(ids)] != ids:  # duoscope keeps the first context-length tokens
            problems.append("token ids differ from HF tokenizers")
        worst = max(abs(a - b) for a, b in zip(ours, theirs))
        ok = worst <= args.tolerance and not problems and len(ours) == len(theirs)
        failed |= not ok
        mean = sum(theirs) / len(theirs)
        print(f"{'ok  ' if ok else 'FAIL'} {model_dir}: {cls}, {len(ids)} tokens, mean loss {mean:.4f}, "
              f"max |duoscope - transformers| {worst:.2e}" + (f"; {', '.join(problems)}" if problems else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
