#!/usr/bin/env python3
"""PyTorch CPU training throughput of a Duo-LLM model, as a baseline for the Swift trainer.

Float32, eager mode (no torch.compile), random init, random data.  Same architecture as
docs/model-format.md: Llama blocks (RMSNorm, GQA attention with HF rotate-half RoPE, SwiGLU) where
every layer has a big FFN (mlp.*) and a small one (mlp_small.*); an untied LM head.  Stage-1 random
routing: every token at every layer independently goes to big or small with p = 0.5 (fresh routes
each step).  Routing is done the way a hand-written trainer does it: gather the rows routed to each
FFN (index_select), run that FFN on them, scatter the result back (index_add_).

Each step: forward, mean cross-entropy, backward, clip_grad_norm_(1.0), AdamW(lr 1e-3,
betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on 2-D tensors).  The first --warmup steps are not
timed; tokens/s = batch * context * steps / time of the timed steps.

Usage:  python3 scripts/bench_torch_train.py [--threads 2] [--json]
"""

import argparse
import json
import math
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.gate_proj = nn.Linear(d, inner, bias=False)
        self.up_proj = nn.Linear(d, inner, bias=False)
        self.down_proj = nn.Linear(inner, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Attention(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.h, self.g, self.hd = a.heads, a.kv_heads, a.head_dim
        self.q_proj = nn.Linear(a.hidden, a.heads * a.head_dim, bias=False)
        self.k_proj = nn.Linear(a.hidden, a.kv_heads * a.head_dim, bias=False)
        self.v_proj = nn.Linear(a.hidden, a.kv_heads * a.head_dim, bias=False)
        self.o_proj = nn.Linear(a.heads * a.head_dim, a.hidden, bias=False)
        self.manual = a.attn == "manual"

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.g, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.g, self.hd).transpose(1, 2)
        q = rope(q, cos, sin)
        k = rope(k, cos, sin)
        rep = self.h // self.g
        if self.manual:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
            o = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=rep > 1)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.h * self.hd))


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], dim=-1) * sin


class Layer(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.input_layernorm = RMSNorm(a.hidden, a.eps)
        self.self_attn = Attention(a)
        self.post_attention_layernorm = RMSNorm(a.hidden, a.eps)
        self.mlp = SwiGLU(a.hidden, a.intermediate)
        self.mlp_small = SwiGLU(a.hidden, a.small)

    def forward(self, x, cos, sin, mask, route):
        """route: [B*T] long, 1 = small, 2 = big (0 = skip also works)."""
        B, T, d = x.shape
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        u = self.post_attention_layernorm(h).reshape(B * T, d)
        f = torch.zeros_like(u)
        for code, ffn in ((2, self.mlp), (1, self.mlp_small)):
            idx = (route == code).nonzero().squeeze(1)
            if idx.numel():
                f.index_add_(0, idx, ffn(u.index_select(0, idx)))
        return h + f.view(B, T, d)


class DuoLM(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList([Layer(a) for _ in range(a.layers)])
        self.norm = RMSNorm(a.hidden, a.eps)
        self.lm_head = nn.Linear(a.hidden, a.vocab, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
        D = a.head_dim
        inv = 1.0 / (a.rope_theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
        ang = torch.arange(a.context, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], dim=-1)
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)
        self.register_buffer(
            "mask", torch.ones(a.context, a.context, dtype=torch.bool).triu(1), persistent=False
        )

    def forward(self, ids, routes):
        """ids [B, T]; routes [L, B*T]."""
        T = ids.shape[1]
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        x = self.embed_tokens(ids)
        for li, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, routes[li])
        return self.lm_head(self.norm(x))


def forward_flops_per_token(a, p_big):
    """docs/model-format.md accounting (multiply-add = 2), causal attention averaged over T."""
    d, Hq, Hkv = a.hidden, a.heads * a.head_dim, a.kv_heads * a.head_dim
    proj = 2 * d * (Hq + 2 * Hkv) + 2 * Hq * d
    attn = 4 * Hq * (a.context + 1) / 2
    ffn = p_big * 6 * d * a.intermediate + (1 - p_big) * 6 * d * a.small
    return a.layers * (proj + attn + ffn) + 2 * d * a.vocab


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=768)
    ap.add_argument("--small", type=int, default=48)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--p-big", type=float, default=0.5, help="probability of the big route (else small)")
    ap.add_argument("--attn", choices=["sdpa", "manual"], default="sdpa",
                    help="sdpa: F.scaled_dot_product_attention; manual: softmax(QK^T)V")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()
    a.head_dim = a.hidden // a.heads
    a.eps = 1e-5
    a.rope_theta = 10000.0
    assert a.hidden % a.heads == 0 and a.heads % a.kv_heads == 0 and a.head_dim % 2 == 0

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = DuoLM(a)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
    )
    gen = torch.Generator().manual_seed(a.seed + 1)
    N = a.batch * a.context

    def step():
        seq = torch.randint(0, a.vocab, (a.batch, a.context + 1), generator=gen)
        routes = torch.where(torch.rand(a.layers, N, generator=gen) < a.p_big, 2, 1)
        logits = model(seq[:, :-1], routes)
        loss = F.cross_entropy(logits.reshape(N, a.vocab), seq[:, 1:].reshape(N))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss.detach())

    losses = []
    for _ in range(a.warmup):
        losses.append(step())
    t0 = time.perf_counter()
    step_times = []
    for _ in range(a.steps):
        s0 = time.perf_counter()
        losses.append(step())
        step_times.append(time.perf_counter() - s0)
    elapsed = time.perf_counter() - t0

    tokens = a.batch * a.context * a.steps
    train_flops = 3 * forward_flops_per_token(a, a.p_big) * tokens
    res = {
        "framework": f"torch {torch.__version__} eager fp32 CPU",
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "attention": a.attn,
        "params": n_params,
        "config": {k: getattr(a, k) for k in ("layers", "hidden", "heads", "kv_heads", "head_dim",
                                             "intermediate", "small", "vocab", "context", "batch")},
        "p_big": a.p_big,
        "warmup_steps": a.warmup,
        "timed_steps": a.steps,
        "seconds": elapsed,
        "tokens_per_s": tokens / elapsed,
        "s_per_step": elapsed / a.steps,
        "s_per_step_min": min(step_times),
        "approx_train_gflop_per_s": train_flops / elapsed / 1e9,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['framework']}, {res['threads']} threads, attention {a.attn}")
        print(f"model: {a.layers} layers, d {a.hidden}, heads {a.heads}/{a.kv_heads}, FFN {a.intermediate}/{a.small}, "
              f"vocab {a.vocab}, context {a.context}; {n_params:,} parameters")
        print(f"batch {a.batch} x {a.context} tokens, p(big) {a.p_big}, {a.warmup} warmup + {a.steps} timed steps")
        print(f"{res['tokens_per_s']:.0f} tokens/s, {res['s_per_step']:.3f} s/step (min {res['s_per_step_min']:.3f}), "
              f"~{res['approx_train_gflop_per_s']:.1f} GFLOP/s (3x forward FLOPs)")
        print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
