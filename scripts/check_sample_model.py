#!/usr/bin/env python3
"""Checks a trained duoscope model against Hugging Face transformers: the directory must load as
LlamaForCausalLM with no missing weights, HF `tokenizers` must give the same ids as duoscope, and
the all-big per-token losses must agree (duoscope's are read from `duoscope route --format json`).

    python3 scripts/check_sample_model.py [MODEL_DIR] [TEXT_FILE] [DUOSCOPE_BINARY]
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import LlamaForCausalLM  # noqa: E402

model_dir = sys.argv[1] if len(sys.argv) > 1 else "sample-models/duo-12L"
text_file = sys.argv[2] if len(sys.argv) > 2 else "sample-models/texts/dialogue.txt"
binary = sys.argv[3] if len(sys.argv) > 3 else ".build/release/duoscope"

text = open(text_file, encoding="utf-8").read()
ids = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).encode(text, add_special_tokens=False).ids
report = json.loads(subprocess.run([binary, "route", model_dir, "--file", text_file, "--policy", "big", "--format", "json"],
                                   check=True, capture_output=True, text=True).stdout)
swift_ids = [t["id"] for t in report["tokens"]]
assert swift_ids == ids, "token ids differ from HF tokenizers"

model, info = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32, output_loading_info=True)
assert not info["missing_keys"], info["missing_keys"]
unused = [k for k in info["unexpected_keys"] if "mlp_small" not in k]
assert not unused, unused
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].double()
losses = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="none")
swift_losses = torch.tensor([t["loss"] for t in report["tokens"][:-1]], dtype=torch.float64)
diff = (losses - swift_losses).abs().max().item()
print(f"{model_dir}: {len(ids)} tokens; ids equal HF tokenizers; HF mean loss {losses.mean().item():.6f}, "
      f"duoscope {swift_losses.mean().item():.6f}, max per-token difference {diff:.2e}")
assert diff < 1e-3, diff
