#!/usr/bin/env python3
"""PyTorch CPU peer of `duoscope bench`: the same work on the same weights, for side-by-side ratios.

Loads a Duo model directory (default sample-models/duo-12L: config.json + model.safetensors) into
the eager PyTorch model of scripts/bench_torch_train.py (HF Llama block, big + small FFN per layer)
and measures, in float32 on the CPU with --threads threads:

  prefill   256 tokens, all-big: one batched forward of the nn.Module (SDPA attention), no grad
  decode    256 tokens one at a time, all-big, with a KV cache, in an eager Python loop
  oracle    all 2^L big/small patterns of the token at position 128 (the context all-big, cached),
            run as one batch of 2^L rows through every layer with per-row routing (a naive
            batched oracle: no shared prefixes), then the LM head and the loss of each pattern

Training throughput comes from scripts/bench_torch_train.py (same architecture, same shape).
Each figure is the best of --repeats timed runs after one warm-up. Prints JSON with --json.

Usage: python3 scripts/bench_torch_inference.py [MODEL_DIR] [--threads 2] [--json]
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_torch_train import DuoLM, rope  # noqa: E402


def load(model_dir):
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    a = argparse.Namespace(layers=cfg["num_hidden_layers"], hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"],
                           kv_heads=cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
                           intermediate=cfg["intermediate_size"], small=cfg["duo"]["small_intermediate_size"],
                           vocab=cfg["vocab_size"], context=cfg["max_position_embeddings"], attn="sdpa",
                           eps=cfg.get("rms_norm_eps", 1e-6), rope_theta=cfg.get("rope_theta", 10000.0))
    a.head_dim = cfg.get("head_dim") or a.hidden // a.heads
    model = DuoLM(a)
    state = {k: v.float() for k, v in load_file(str(Path(model_dir) / "model.safetensors")).items()}
    if "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    state = {k.removeprefix("model."): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    return model, a


def best_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def project(layer, x, positions, model):
    """q, k, v of rows x [n, d] at `positions`, after RoPE: [n, heads, hd], [n, kv, hd] x2."""
    att = layer.self_attn
    n = x.shape[0]
    u = layer.input_layernorm(x)
    q = att.q_proj(u).view(n, att.h, att.hd)
    k = att.k_proj(u).view(n, att.g, att.hd)
    v = att.v_proj(u).view(n, att.g, att.hd)
    cos, sin = model.cos[positions][:, None, :], model.sin[positions][:, None, :]
    return rope(q, cos, sin), rope(k, cos, sin), v


def attend(layer, q, keys, values, own_k=None, own_v=None):
    """q [n, H, hd] over cached keys/values [t, G, hd] (plus each row's own key/value)."""
    att = layer.self_attn
    rep = att.h // att.g
    kc = keys.repeat_interleave(rep, dim=1)      # [t, H, hd]
    vc = values.repeat_interleave(rep, dim=1)
    s = torch.einsum("nhd,thd->nht", q, kc) / math.sqrt(att.hd)
    if own_k is not None:
        ok = own_k.repeat_interleave(rep, dim=1)
        ov = own_v.repeat_interleave(rep, dim=1)
        s = torch.cat([s, (q * ok).sum(-1, keepdim=True) / math.sqrt(att.hd)], dim=-1)
        p = torch.softmax(s, dim=-1)
        o = torch.einsum("nht,thd->nhd", p[..., :-1], vc) + p[..., -1:] * ov
    else:
        p = torch.softmax(s, dim=-1)
        o = torch.einsum("nht,thd->nhd", p, vc)
    return att.o_proj(o.reshape(q.shape[0], att.h * att.hd))


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(root / "sample-models" / "duo-12L"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, a = load(args.model)
    T = min(args.tokens, a.context)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, a.vocab, (1, T), generator=gen)
    L = a.layers
    results = {}

    with torch.no_grad():
        big = torch.full((L, T), 2)
        prefill = best_time(lambda: model(ids, big), args.repeats)
        results["prefill_tokens_per_s"] = T / prefill

        def decode():
            caches = [([], []) for _ in range(L)]
            for t in range(T):
                x = model.embed_tokens(ids[:, t])                 # [1, d]
                for li, layer in enumerate(model.layers):
                    q, k, v = project(layer, x, torch.tensor([t]), model)
                    caches[li][0].append(k)
                    caches[li][1].append(v)
                    h = x + attend(layer, q, torch.cat(caches[li][0]), torch.cat(caches[li][1]))
                    x = h + layer.mlp(layer.post_attention_layernorm(h))
                model.lm_head(model.norm(x))
        decode_time = best_time(decode, max(1, args.repeats // 2))
        results["decode_tokens_per_s"] = T / decode_time

        position = T // 2
        patterns = 1 << L
        bits = (torch.arange(patterns)[:, None] >> torch.arange(L)[None, :]) & 1   # [P, L]: 1 = big
        context = []
        x = model.embed_tokens(ids[0, :position])
        for layer in model.layers:                     # all-big context, cached once
            q, k, v = project(layer, x, torch.arange(position), model)
            context.append((k, v))
            h = x + layer.self_attn.o_proj(F.scaled_dot_product_attention(
                q.transpose(0, 1), k.repeat_interleave(a.heads // a.kv_heads, 1).transpose(0, 1),
                v.repeat_interleave(a.heads // a.kv_heads, 1).transpose(0, 1), is_causal=True
            ).transpose(0, 1).reshape(position, -1))
            x = h + layer.mlp(layer.post_attention_layernorm(h))
        target = int(ids[0, position + 1])

        def oracle():
            x = model.embed_tokens(ids[0, position]).expand(patterns, -1).contiguous()
            pos = torch.full((patterns,), position)
            for li, layer in enumerate(model.layers):
                q, k, v = project(layer, x, pos, model)
                h = x + attend(layer, q, context[li][0], context[li][1], k, v)
                u = layer.post_attention_layernorm(h)
                f = torch.empty_like(u)
                is_big = bits[:, li] == 1
                f[is_big] = layer.mlp(u[is_big])
                f[~is_big] = layer.mlp_small(u[~is_big])
                x = h + f
            logits = model.lm_head(model.norm(x))
            return F.cross_entropy(logits, torch.full((patterns,), target), reduction="none")
        oracle_time = best_time(oracle, max(1, args.repeats // 2))
        results["oracle_naive_tokens_per_s"] = 1 / oracle_time

    results.update({"framework": f"torch {torch.__version__} eager fp32 CPU", "threads": torch.get_num_threads(),
                    "cpu": platform.processor() or platform.machine(), "model": args.model, "tokens": T,
                    "oracle_patterns": patterns, "oracle_position": position})
    if args.json:
        print(json.dumps(results))
    else:
        print(f"{results['framework']}, {results['threads']} threads, {args.model}")
        print(f"prefill {T} tokens, all-big:        {results['prefill_tokens_per_s']:.0f} tokens/s")
        print(f"decode {T} tokens, all-big (eager): {results['decode_tokens_per_s']:.0f} tokens/s")
        print(f"oracle, {patterns} patterns batched:   {results['oracle_naive_tokens_per_s']:.2f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
