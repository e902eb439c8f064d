#!/usr/bin/env python3
"""Write reference gradients and one AdamW step for the Swift Duo trainer.

An independent float64 PyTorch implementation of the Duo forward pass (docs/model-format.md),
differentiated with autograd, is run on `Tests/Fixtures/tiny-model` for one fixed batch with fixed
per-token per-layer routes (0 skip / 1 small / 2 big).  It writes

  Tests/Fixtures/train-golden/batch.json         inputs, targets, routes, loss, grad_norm, AdamW settings
  Tests/Fixtures/train-golden/grads.safetensors  F32, d loss / d parameter, unclipped, model tensor names
  Tests/Fixtures/train-golden/updated.safetensors F32, the parameters after ONE AdamW step

The step is torch.nn.utils.clip_grad_norm_(max_norm=1.0) on the global gradient norm followed by
torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1), with weight decay on
every 2-D tensor (all projections, the embedding and the untied lm_head) and none on the 1-D norm
weights.  For step 1 that is, per element (g = clipped gradient, c = min(1, 1/(norm + 1e-6))):

    p <- p * (1 - lr * wd_p) - lr * g / (|g| + eps)        (m_hat = g, v_hat = g^2 at step 1)

The loss is the mean cross-entropy (nats) over all B*T targets, targets = seq[:, 1:].

Self-checks (asserted):
  * all-big and mixed-route logits equal the numpy reference forward of make_tiny_models.py (1e-6);
  * all-big logits and *gradients* equal HF transformers' LlamaForCausalLM loaded in float64 (1e-5 /
    1e-4 relative to each tensor's largest gradient: HF keeps RoPE and RMSNorm statistics in float32);
  * central finite differences of a sample of gradient entries from every kind of tensor agree with
    autograd, and torch.autograd.gradcheck passes on a perturbation of a few entries;
  * the AdamW step equals the closed form above computed by hand.

Deterministic: single-threaded float64, fixed seeds; reruns give byte-identical files.

Usage:  python3 scripts/make_train_golden.py [--model Tests/Fixtures/tiny-model] [--out Tests/Fixtures/train-golden]
        [--skip-hf-check]
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

B = 3
T = 16  # sequences hold T + 1 ids
SEED = 4242
ROUTE_P = [0.2, 0.4, 0.4]  # skip, small, big

ADAMW = {
    "lr": 1e-3,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-8,
    "weight_decay": 0.1,
    "clip": 1.0,
    "decay_1d": False,
}

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# Model (functional, float64)
# ---------------------------------------------------------------------------

class Cfg:
    def __init__(self, d):
        self.vocab = int(d["vocab_size"])
        self.hidden = int(d["hidden_size"])
        self.inter = int(d["intermediate_size"])
        self.small = int(d["duo"]["small_intermediate_size"])
        self.layers = int(d["num_hidden_layers"])
        self.heads = int(d["num_attention_heads"])
        self.kv_heads = int(d.get("num_key_value_heads", self.heads))
        self.head_dim = int(d.get("head_dim", self.hidden // self.heads))
        self.eps = float(d.get("rms_norm_eps", 1e-6))
        self.theta = float(d.get("rope_theta", 10000.0))
        self.tied = bool(d.get("tie_word_embeddings", False))
        self.context = int(d["max_position_embeddings"])


def param_names(cfg):
    """Canonical order: embedding, layers (attention, norms, big FFN, small FFN), final norm, head."""
    names = ["model.embed_tokens.weight"]
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        names += [
            p + "input_layernorm.weight",
            p + "self_attn.q_proj.weight",
            p + "self_attn.k_proj.weight",
            p + "self_attn.v_proj.weight",
            p + "self_attn.o_proj.weight",
            p + "post_attention_layernorm.weight",
            p + "mlp.gate_proj.weight",
            p + "mlp.up_proj.weight",
            p + "mlp.down_proj.weight",
            p + "mlp_small.gate_proj.weight",
            p + "mlp_small.up_proj.weight",
            p + "mlp_small.down_proj.weight",
        ]
    names.append("model.norm.weight")
    if not cfg.tied:
        names.append("lm_head.weight")
    return names


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(cfg, n, dtype):
    D = cfg.head_dim
    inv = 1.0 / (cfg.theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)  # [n, D]
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rope(x, cos, sin):
    # x: [B, heads, T, D]; HF "rotate half"
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


def swiglu(u, P, prefix):
    g = u @ P[prefix + "gate_proj.weight"].t()
    up = u @ P[prefix + "up_proj.weight"].t()
    return (F.silu(g) * up) @ P[prefix + "down_proj.weight"].t()


def forward(cfg, P, ids, routes):
    """ids: [B, T] long; routes: [B, T, L] long (0 skip, 1 small, 2 big). Returns logits [B, T, V]."""
    Bn, Tn = ids.shape
    H, G, D = cfg.heads, cfg.kv_heads, cfg.head_dim
    x = P["model.embed_tokens.weight"][ids]
    cos, sin = rope(cfg, Tn, x.dtype)
    causal = torch.ones(Tn, Tn, dtype=torch.bool).tril()
    for li in range(cfg.layers):
        p = f"model.layers.{li}."
        xn = rmsnorm(x, P[p + "input_layernorm.weight"], cfg.eps)
        q = (xn @ P[p + "self_attn.q_proj.weight"].t()).view(Bn, Tn, H, D).transpose(1, 2)
        k = (xn @ P[p + "self_attn.k_proj.weight"].t()).view(Bn, Tn, G, D).transpose(1, 2)
        v = (xn @ P[p + "self_attn.v_proj.weight"].t()).view(Bn, Tn, G, D).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        k = k.repeat_interleave(H // G, dim=1)  # query head h uses kv head h // (H/G)
        v = v.repeat_interleave(H // G, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v  # [B, H, T, D]
        a = a.transpose(1, 2).reshape(Bn, Tn, H * D) @ P[p + "self_attn.o_proj.weight"].t()
        h = x + a
        u = rmsnorm(h, P[p + "post_attention_layernorm.weight"], cfg.eps)
        r = routes[:, :, li]
        # Gather the rows routed to each FFN, run it, scatter back; skip rows get 0.
        flat_u = u.reshape(Bn * Tn, -1)
        flat_r = r.reshape(Bn * Tn)
        f = torch.zeros_like(flat_u)
        for route, prefix in ((2, p + "mlp."), (1, p + "mlp_small.")):
            idx = (flat_r == route).nonzero().squeeze(1)
            if idx.numel():
                f = f.index_add(0, idx, swiglu(flat_u.index_select(0, idx), P, prefix))
        x = h + f.view(Bn, Tn, -1)
    head = P["model.embed_tokens.weight"] if cfg.tied else P["lm_head.weight"]
    return rmsnorm(x, P["model.norm.weight"], cfg.eps) @ head.t()


def loss_fn(cfg, P, inputs, targets, routes):
    logits = forward(cfg, P, inputs, routes)
    return F.cross_entropy(logits.reshape(-1, cfg.vocab), targets.reshape(-1), reduction="mean")


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def make_batch(cfg):
    rng = np.random.default_rng(SEED)
    seq = rng.integers(1, cfg.vocab, size=(B, T + 1), dtype=np.int64)
    for attempt in range(1000):
        routes = rng.choice(3, size=(B, T, cfg.layers), p=ROUTE_P).astype(np.int64)
        if all(set(np.unique(routes[:, :, l]).tolist()) == {0, 1, 2} for l in range(cfg.layers)):
            break
    else:
        raise RuntimeError("could not draw routes covering every route at every layer")
    return seq[:, :-1].copy(), seq[:, 1:].copy(), routes


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def check_numpy_reference(cfg, W64, inputs, routes):
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_tiny_models as ref  # its numpy forward hard-codes the tiny architecture

    assert (ref.HIDDEN, ref.LAYERS, ref.HEADS, ref.KV_HEADS, ref.HEAD_DIM, ref.EPS, ref.ROPE_THETA) == (
        cfg.hidden, cfg.layers, cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.eps, cfg.theta
    ), "model does not have make_tiny_models.py's architecture"
    Wnp = {k: v.numpy() for k, v in W64.items()}
    worst = {}
    for name, rts in (("all-big", np.full_like(routes, 2)), ("mixed", routes)):
        with torch.no_grad():
            ours = forward(cfg, W64, torch.from_numpy(inputs), torch.from_numpy(rts)).numpy()
        diff = 0.0
        for b in range(inputs.shape[0]):
            theirs = ref.reference_forward(Wnp, inputs[b], rts[b], np.float64)
            diff = max(diff, float(np.abs(ours[b] - theirs).max()))
        assert diff < 1e-6, f"{name}: torch vs numpy reference max abs diff {diff}"
        worst[name] = diff
    return worst


def check_hf(cfg, model_dir, W64, inputs, targets):
    """HF LlamaForCausalLM (float64, eager attention) on all-big routes: logits and gradients."""
    import transformers
    from transformers import LlamaForCausalLM

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model = LlamaForCausalLM.from_pretrained(
        str(model_dir), dtype=torch.float64, local_files_only=True, attn_implementation="eager"
    )
    model.eval()
    ids = torch.from_numpy(inputs)
    tg = torch.from_numpy(targets)
    hf_logits = model(ids).logits
    hf_loss = F.cross_entropy(hf_logits.reshape(-1, cfg.vocab), tg.reshape(-1))
    hf_loss.backward()

    P = {k: v.clone().requires_grad_(True) for k, v in W64.items()}
    allbig = torch.full((ids.shape[0], ids.shape[1], cfg.layers), 2, dtype=torch.long)
    logits = forward(cfg, P, ids, allbig)
    loss = F.cross_entropy(logits.reshape(-1, cfg.vocab), tg.reshape(-1))
    loss.backward()

    # HF computes RoPE tables and the RMSNorm statistics in float32 even for a float64 model, so
    # this comparison is only float32-tight; the numpy reference above is the float64 check.
    dlogit = float((logits - hf_logits).detach().abs().max())
    assert dlogit < 1e-5, f"HF vs torch all-big logits diff {dlogit}"
    assert abs(float(loss.detach()) - float(hf_loss.detach())) < 1e-6
    dgrad = 0.0
    seen = 0
    for name, prm in model.named_parameters():
        assert name in P, name
        assert torch.equal(prm.detach(), W64[name]), f"HF loaded {name} differently"
        scale = max(float(P[name].grad.abs().max()), 1e-3)
        dgrad = max(dgrad, float((prm.grad - P[name].grad).abs().max()) / scale)
        seen += 1
    assert seen == len([n for n in P if ".mlp_small." not in n]), "HF parameter set differs"
    assert dgrad < 1e-4, f"HF vs torch all-big gradient diff (relative to tensor max) {dgrad}"
    return dlogit, dgrad


def check_finite_differences(cfg, W64, grads, inputs, targets, routes):
    ids, tg, rt = torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(routes)
    rng = np.random.default_rng(SEED + 1)
    picks = [
        "model.embed_tokens.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.self_attn.k_proj.weight",
        "model.layers.2.self_attn.v_proj.weight",
        "model.layers.3.self_attn.o_proj.weight",
        "model.layers.1.post_attention_layernorm.weight",
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.2.mlp.up_proj.weight",
        "model.layers.3.mlp.down_proj.weight",
        "model.layers.0.mlp_small.gate_proj.weight",
        "model.layers.1.mlp_small.up_proj.weight",
        "model.layers.3.mlp_small.down_proj.weight",
        "model.norm.weight",
        "lm_head.weight",
    ]
    picks = [n for n in picks if n in W64]
    worst_rel = 0.0
    worst_abs = 0.0
    eps = 1e-5
    checked = 0
    with torch.no_grad():
        for name in picks:
            shape = W64[name].shape
            if name == "model.embed_tokens.weight":
                # a row that is actually used, so the gradient is non-zero
                row = int(inputs[0, 3])
                idx = (row, int(rng.integers(shape[1])))
            else:
                idx = tuple(int(rng.integers(s)) for s in shape)
            P = dict(W64)
            base = W64[name]
            vals = []
            for sgn in (1.0, -1.0):
                w = base.clone()
                w[idx] += sgn * eps
                P[name] = w
                vals.append(float(loss_fn(cfg, P, ids, tg, rt)))
            fd = (vals[0] - vals[1]) / (2 * eps)
            an = float(grads[name][idx])
            err = abs(fd - an)
            rel = err / max(abs(an), 1e-6)
            assert err < 1e-8 or rel < 1e-6, f"{name}{idx}: finite diff {fd} vs autograd {an}"
            worst_rel = max(worst_rel, rel)
            worst_abs = max(worst_abs, err)
            checked += 1

    # torch.autograd.gradcheck on a perturbation of three entries (big, small, attention).
    sel = [
        ("model.layers.1.mlp.down_proj.weight", (5, 7)),
        ("model.layers.2.mlp_small.gate_proj.weight", (3, 11)),
        ("model.layers.0.self_attn.o_proj.weight", (9, 2)),
    ]

    def f(delta):
        P = dict(W64)
        for j, (name, idx) in enumerate(sel):
            onehot = torch.zeros_like(W64[name])
            onehot[idx] = 1.0
            P[name] = W64[name] + delta[j] * onehot
        return loss_fn(cfg, P, ids, tg, rt)

    delta = torch.zeros(len(sel), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (delta,), eps=1e-6, atol=1e-8, rtol=1e-6)
    return checked, worst_abs, worst_rel


# ---------------------------------------------------------------------------
# AdamW
# ---------------------------------------------------------------------------

def adamw_step(names, W64, grads):
    params = {n: W64[n].clone().requires_grad_(True) for n in names}
    for n in names:
        params[n].grad = grads[n].clone()
    plist = [params[n] for n in names]
    total = torch.nn.utils.clip_grad_norm_(plist, max_norm=ADAMW["clip"], foreach=False)
    decay = [params[n] for n in names if params[n].dim() >= 2]
    no_decay = [params[n] for n in names if params[n].dim() < 2]
    assert all(n.endswith("norm.weight") for n in names if W64[n].dim() < 2)
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": ADAMW["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=ADAMW["lr"],
        betas=(ADAMW["beta1"], ADAMW["beta2"]),
        eps=ADAMW["eps"],
        foreach=False,
        fused=False,
    )
    opt.step()
    updated = {n: params[n].detach() for n in names}

    # closed form by hand
    norm = math.sqrt(sum(float((grads[n] ** 2).sum()) for n in names))
    assert abs(norm - float(total)) < 1e-12 * max(1.0, norm)
    coef = min(1.0, ADAMW["clip"] / (norm + 1e-6))
    lr, b1, b2, eps = ADAMW["lr"], ADAMW["beta1"], ADAMW["beta2"], ADAMW["eps"]
    worst = 0.0
    for n in names:
        g = grads[n] * coef
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        mhat = m / (1 - b1)
        vhat_sqrt = v.sqrt() / math.sqrt(1 - b2)
        wd = ADAMW["weight_decay"] if W64[n].dim() >= 2 else 0.0
        p = W64[n] * (1 - lr * wd) - lr * mhat / (vhat_sqrt + eps)
        worst = max(worst, float((p - updated[n]).abs().max()))
    assert worst < 1e-15, f"AdamW closed form differs from torch.optim.AdamW by {worst}"
    return updated, float(total), worst


# ---------------------------------------------------------------------------

def save_f32(path, tensors, names):
    from safetensors.numpy import save_file

    out = {n: np.ascontiguousarray(tensors[n].detach().numpy().astype(np.float32)) for n in names}
    save_file(out, str(path), metadata={"format": "pt"})
    os.chmod(path, 0o644)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "Tests" / "Fixtures" / "tiny-model")
    ap.add_argument("--out", type=Path, default=ROOT / "Tests" / "Fixtures" / "train-golden")
    ap.add_argument("--skip-hf-check", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)  # determinism of float64 reductions
    torch.manual_seed(0)

    cfg = Cfg(json.loads((args.model / "config.json").read_text()))
    from safetensors.numpy import load_file

    raw = load_file(str(args.model / "model.safetensors"))
    names = param_names(cfg)
    missing = [n for n in names if n not in raw]
    assert not missing, f"model lacks {missing}"
    W64 = {n: torch.from_numpy(raw[n].astype(np.float64)) for n in names}

    inputs, targets, routes = make_batch(cfg)
    assert inputs.shape[1] <= cfg.context

    # loss and gradients
    P = {n: W64[n].clone().requires_grad_(True) for n in names}
    loss = loss_fn(cfg, P, torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(routes))
    loss.backward()
    grads = {n: P[n].grad.detach().clone() for n in names}
    for n in names:
        assert grads[n].shape == W64[n].shape and torch.isfinite(grads[n]).all(), n
        assert float(grads[n].abs().max()) > 0, f"zero gradient for {n}"

    # checks
    dnp = check_numpy_reference(cfg, W64, inputs, routes)
    print(f"numpy reference forward: all-big max diff {dnp['all-big']:.2e}, mixed {dnp['mixed']:.2e}")
    if not args.skip_hf_check:
        dlog, dgr = check_hf(cfg, args.model, W64, inputs, targets)
        print(f"HF LlamaForCausalLM f64 all-big: logits diff {dlog:.2e}, gradient rel diff {dgr:.2e}")
    nfd, fabs, frel = check_finite_differences(cfg, W64, grads, inputs, targets, routes)
    print(f"finite differences: {nfd} entries, worst abs err {fabs:.2e}, rel err {frel:.2e}; gradcheck passed")

    updated, total, dadam = adamw_step(names, W64, grads)
    print(f"AdamW: torch.optim vs closed form max diff {dadam:.2e}")

    args.out.mkdir(parents=True, exist_ok=True)
    batch = {
        "model": "tiny-model",
        "inputs": inputs.tolist(),
        "targets": targets.tolist(),
        "routes": routes.tolist(),
        "route_names": ["skip", "small", "big"],
        "loss": float(loss.detach()),
        "grad_norm": total,
        "adamw": ADAMW,
        "notes": (
            "routes[b][t][l]; loss = mean CE over B*T targets (nats); grads.safetensors holds the "
            "unclipped gradients; updated.safetensors = params after clip_grad_norm_(1.0) and one "
            "torch.optim.AdamW step (step 1), weight decay on 2-D tensors only. At step 1 the Adam "
            "update is lr * g / (|g| + eps), so entries with |clipped g| below ~1e-6 (a few hundred) are "
            "sensitive to float32 gradient error: allow up to 2*lr there, or mask them"
        ),
    }
    with open(args.out / "batch.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(batch, f, indent=1)
        f.write("\n")
    save_f32(args.out / "grads.safetensors", grads, names)
    save_f32(args.out / "updated.safetensors", updated, names)

    counts = np.bincount(routes.reshape(-1), minlength=3)
    total_bytes = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"batch B={B} T={T}, routes skip/small/big = {counts.tolist()}")
    print(f"loss {float(loss.detach()):.10f} nats, grad norm {total:.10f} (clip coef {min(1.0, 1.0 / (total + 1e-6)):.6f})")
    print(f"wrote {args.out} ({total_bytes / 1e6:.2f} MB)")


if __name__ == "__main__":
    sys.exit(main())
