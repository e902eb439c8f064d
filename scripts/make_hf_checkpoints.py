#!/usr/bin/env python3
"""Write tiny checkpoints with HF transformers' own `save_pretrained`, and golden per-token losses.

Each case is a model directory under Tests/Fixtures/hf-checkpoints/ written the way a user's
checkpoint is written: the current transformers (scripts/requirements.txt) builds the model
from its config class, this script gives it random weights large enough that every part of the
block matters, and `save_pretrained` writes config.json and the safetensors. The tokenizer is
the tiny byte-level one of Tests/Fixtures/tiny-model. Weights are stored in BF16. Golden losses come from transformers
itself, loading the written directory in float32 with eager attention.

Cases ("expect" in golden.json):
  equal    duoscope must give the same per-token losses (1e-4)
  refused  duoscope must refuse the directory with a one-line error containing "error"

  llama-v5            Llama, transformers-5 layout (rope_parameters, theta 500000), GQA,
                      tied embeddings, sharded
  llama-head-dim      explicit head_dim (12) different from hidden / heads (8)
  llama-rope-llama3   rope_type llama3 (factor 8, low/high freq factor 1/4, original context 16)
  llama-v4-layout     the llama-rope-llama3 weights with a transformers-4 config (top-level
                      rope_theta + rope_scaling), as Llama 3.x checkpoints on the Hub are written
  llama-rope-linear   rope_type linear (factor 4)
  llama-inv-freq      Llama with the rotary inv_freq buffers older transformers saved (ignorable)
  mistral-window      Mistral, sliding_window 5, shorter than the 24-token text
  qwen2               Qwen2: q/k/v biases, sliding window 6 on layer 1 only (use_sliding_window,
                      max_window_layers 1)
  refuse-rope-*       Llama with rope_type dynamic, yarn, longrope (transformers' own configs)
  refuse-model-type   a GPT-NeoX checkpoint (model_type gpt_neox)
  refuse-extra-tensor Llama saved with attention biases whose config no longer says so
  refuse-attention-bias  Llama with attention_bias true

Usage: python3 scripts/make_hf_checkpoints.py [--out Tests/Fixtures/hf-checkpoints]
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM, GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM,
    MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
)

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "Tests" / "Fixtures" / "tiny-model" / "tokenizer.json"
TEXT = "And God said, Let there be light: and there was light. And the evening and the morning were the first day."

BASE = dict(vocab_size=384, hidden_size=32, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=0,
            tie_word_embeddings=False)


def randomize(model, seed):
    """Weights with enough spread that attention, RoPE, biases and FFN all change the losses."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def save(model, out, name, dtype=torch.bfloat16, **kwargs):
    path = out / name
    if path.exists():
        shutil.rmtree(path)
    model.to(dtype).save_pretrained(path, **kwargs)
    shutil.copy(TOKENIZER, path / "tokenizer.json")
    return path


def edit_config(path, change):
    config = json.loads((path / "config.json").read_text())
    change(config)
    (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def golden_losses(path, ids):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].to(torch.float64)
    losses = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="none")
    return [float(x) for x in losses]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "Tests" / "Fixtures" / "hf-checkpoints")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)

    from tokenizers import Tokenizer
    ids = Tokenizer.from_file(str(TOKENIZER)).encode(TEXT, add_special_tokens=False).ids
    assert 20 <= len(ids) <= 40, len(ids)
    cases = {}

    def equal(name, path):
        cases[name] = {"expect": "equal", "losses": golden_losses(path, ids)}

    def refused(name, error):
        cases[name] = {"expect": "refused", "error": error}

    # Llama as transformers 5 writes it: rope_parameters only, BF16, GQA, tied, two or more shards.
    config = LlamaConfig(**{**BASE, "tie_word_embeddings": True}, rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    model = LlamaForCausalLM(config)
    randomize(model, 1)
    path = save(model, out, "llama-v5", max_shard_size="12KB")
    saved = json.loads((path / "config.json").read_text())
    assert "rope_parameters" in saved and "rope_theta" not in saved and "rope_scaling" not in saved, saved
    assert (path / "model.safetensors.index.json").exists(), "llama-v5 is not sharded"
    equal("llama-v5", path)

    model = LlamaForCausalLM(LlamaConfig(**BASE, head_dim=12))
    randomize(model, 2)
    equal("llama-head-dim", save(model, out, "llama-head-dim"))

    llama3 = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
    model = LlamaForCausalLM(LlamaConfig(**BASE, rope_parameters=llama3))
    randomize(model, 3)
    path = save(model, out, "llama-rope-llama3")
    equal("llama-rope-llama3", path)

    # The same weights with the transformers-4 layout of a Llama 3.x config.json.
    v4 = out / "llama-v4-layout"
    if v4.exists():
        shutil.rmtree(v4)
    shutil.copytree(path, v4)

    def to_v4(c):
        rope = c.pop("rope_parameters")
        c["rope_theta"] = rope.pop("rope_theta")
        c["rope_scaling"] = rope
    edit_config(v4, to_v4)
    equal("llama-v4-layout", v4)
    assert cases["llama-v4-layout"]["losses"] == cases["llama-rope-llama3"]["losses"], "transformers reads the layouts differently"

    model = LlamaForCausalLM(LlamaConfig(**BASE, rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}))
    randomize(model, 4)
    equal("llama-rope-linear", save(model, out, "llama-rope-linear"))

    model = LlamaForCausalLM(LlamaConfig(**BASE))
    randomize(model, 5)
    path = save(model, out, "llama-inv-freq")
    tensors = load_file(path / "model.safetensors")
    inv_freq = model.model.rotary_emb.inv_freq.detach().clone()
    for i in range(BASE["num_hidden_layers"]):
        tensors[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
    save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})
    equal("llama-inv-freq", path)

    model = MistralForCausalLM(MistralConfig(**BASE, sliding_window=5))
    randomize(model, 6)
    equal("mistral-window", save(model, out, "mistral-window"))

    model = Qwen2ForCausalLM(Qwen2Config(**BASE, use_sliding_window=True, sliding_window=6, max_window_layers=1))
    randomize(model, 7)
    path = save(model, out, "qwen2")
    assert json.loads((path / "config.json").read_text())["layer_types"] == ["full_attention", "sliding_attention"]
    equal("qwen2", path)

    for rope_type, params in [("dynamic", {"factor": 2.0}),
                              ("yarn", {"factor": 4.0, "original_max_position_embeddings": 32}),
                              ("longrope", {"short_factor": [1.0] * 4, "long_factor": [2.0] * 4,
                                            "original_max_position_embeddings": 32})]:
        model = LlamaForCausalLM(LlamaConfig(**BASE, rope_parameters={"rope_type": rope_type, "rope_theta": 10000.0, **params}))
        randomize(model, 8)
        save(model, out, f"refuse-rope-{rope_type}")
        refused(f"refuse-rope-{rope_type}", f"rope_parameters.rope_type \"{rope_type}\" is not supported")

    neox = GPTNeoXConfig(vocab_size=384, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=128)
    model = GPTNeoXForCausalLM(neox)
    randomize(model, 9)
    save(model, out, "refuse-model-type")
    refused("refuse-model-type", "model_type \"gpt_neox\" is not supported")

    model = LlamaForCausalLM(LlamaConfig(**BASE, attention_bias=True))
    randomize(model, 10)
    path = save(model, out, "refuse-attention-bias")
    refused("refuse-attention-bias", "attention_bias = true is not supported")
    path = save(model, out, "refuse-extra-tensor")
    edit_config(path, lambda c: c.pop("attention_bias"))
    refused("refuse-extra-tensor", "unexpected tensor model.layers.0.self_attn.")

    golden = {"transformers": transformers.__version__, "torch": torch.__version__, "text": TEXT, "ids": ids,
              "cases": cases}
    (out / "golden.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"transformers {transformers.__version__}: {len(cases)} cases, {len(ids)} tokens, {size / 1e6:.2f} MB in {out}")
    for name, case in sorted(cases.items()):
        detail = f"mean loss {np.mean(case['losses']):.4f}" if case["expect"] == "equal" else case["error"]
        print(f"  {name:24s} {case['expect']:8s} {detail}")


if __name__ == "__main__":
    sys.exit(main())
