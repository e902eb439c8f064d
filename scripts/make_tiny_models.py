#!/usr/bin/env python3
"""Write tiny random Duo-LLM test models and golden outputs.

Running this script deterministically (fixed seeds) writes:

  Tests/Fixtures/tiny-model/               F32, untied lm_head, Duo (skip/small/big)
  Tests/Fixtures/tiny-model-f16-sharded/   F16, tied embeddings, Duo, 2 safetensors shards + index
  Tests/Fixtures/tiny-model-bf16-llama/    BF16, plain Llama (no `duo` section, no mlp_small), untied
  Tests/Fixtures/golden.json               reference losses / logits from an independent numpy forward

The golden numbers come from a float64 numpy implementation of the Duo forward pass
that reads the weights *as stored* (i.e. after rounding to F16 / BF16).  The script
then asserts that

  * the numpy reference in float32 matches the float64 one (all-big logits, 1e-4), and
  * HF transformers' LlamaForCausalLM, loaded from each written directory, produces the
    same all-big logits as the numpy reference (1e-4 max abs diff), with no missing keys
    and with every loaded parameter equal to the tensor written on disk.

Usage:  python3 scripts/make_tiny_models.py [--out Tests/Fixtures] [--skip-hf-check]
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

# ---------------------------------------------------------------------------
# Architecture
# ---------------------------------------------------------------------------

HIDDEN = 64
INTERMEDIATE = 256
SMALL_INTERMEDIATE = 16
LAYERS = 4
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS  # 16
MAX_POS = 64
EPS = 1e-5
ROPE_THETA = 10000.0
VOCAB_TARGET = 384
SPECIAL = "<|endoftext|>"

DUO_SECTION = {
    "small_intermediate_size": SMALL_INTERMEDIATE,
    "routes": ["skip", "small", "big"],
    "train_route_probabilities": {"skip": 0.0, "small": 0.5, "big": 0.5},
}

MODELS = [
    # name, dtype, seed, duo?, tied?, shards
    {"name": "tiny-model", "dtype": "float32", "seed": 1001, "duo": True, "tied": False, "shards": 1},
    {"name": "tiny-model-f16-sharded", "dtype": "float16", "seed": 2002, "duo": True, "tied": True, "shards": 2},
    {"name": "tiny-model-bf16-llama", "dtype": "bfloat16", "seed": 3003, "duo": False, "tied": False, "shards": 1},
]

GOLDEN_TEXTS = [
    "The old man walked along the river, watching the light fade over the green hills.",
    "It's 10% off: $7.99, ok? (2 items)",
]

# King James Version, Genesis 1 (public domain): tokenizer training text.
TRAINING_TEXT = """\
In the beginning God created the heaven and the earth.
And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters.
And God said, Let there be light: and there was light.
And God saw the light, that it was good: and God divided the light from the darkness.
And God called the light Day, and the darkness he called Night. And the evening and the morning were the first day.
And God said, Let there be a firmament in the midst of the waters, and let it divide the waters from the waters.
And God made the firmament, and divided the waters which were under the firmament from the waters which were above the firmament: and it was so.
And God called the firmament Heaven. And the evening and the morning were the second day.
And God said, Let the waters under the heaven be gathered together unto one place, and let the dry land appear: and it was so.
And God called the dry land Earth; and the gathering together of the waters called he Seas: and God saw that it was good.
And God said, Let the earth bring forth grass, the herb yielding seed, and the fruit tree yielding fruit after his kind, whose seed is in itself, upon the earth: and it was so.
And the earth brought forth grass, and herb yielding seed after his kind, and the tree yielding fruit, whose seed was in itself, after his kind: and God saw that it was good.
And the evening and the morning were the third day.
And God said, Let there be lights in the firmament of the heaven to divide the day from the night; and let them be for signs, and for seasons, and for days, and years:
And let them be for lights in the firmament of the heaven to give light upon the earth: and it was so.
And God made two great lights; the greater light to rule the day, and the lesser light to rule the night: he made the stars also.
And God set them in the firmament of the heaven to give light upon the earth,
And to rule over the day and over the night, and to divide the light from the darkness: and God saw that it was good.
And the evening and the morning were the fourth day.
And God said, Let the waters bring forth abundantly the moving creature that hath life, and fowl that may fly above the earth in the open firmament of heaven.
And God created great whales, and every living creature that moveth, which the waters brought forth abundantly, after their kind, and every winged fowl after his kind: and God saw that it was good.
And God blessed them, saying, Be fruitful, and multiply, and fill the waters in the seas, and let fowl multiply in the earth.
And the evening and the morning were the fifth day.
And God said, Let the earth bring forth the living creature after his kind, cattle, and creeping thing, and beast of the earth after his kind: and it was so.
And God made the beast of the earth after his kind, and cattle after their kind, and every thing that creepeth upon the earth after his kind: and God saw that it was good.
And God said, Let us make man in our image, after our likeness: and let them have dominion over the fish of the sea, and over the fowl of the air, and over the cattle, and over all the earth, and over every creeping thing that creepeth upon the earth.
So God created man in his own image, in the image of God created he him; male and female created he them.
And God blessed them, and God said unto them, Be fruitful, and multiply, and replenish the earth, and subdue it: and have dominion over the fish of the sea, and over the fowl of the air, and over every living thing that moveth upon the earth.
And God said, Behold, I have given you every herb bearing seed, which is upon the face of all the earth, and every tree, in the which is the fruit of a tree yielding seed; to you it shall be for meat.
And to every beast of the earth, and to every fowl of the air, and to every thing that creepeth upon the earth, wherein there is life, I have given every green herb for meat: and it was so.
And God saw every thing that he had made, and, behold, it was very good. And the evening and the morning were the sixth day.
Chapter 1, verses 1-31; 1611 edition. Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 2024. Punctuation: ! ? # $ % & ( ) - : ; "quoted" 'single'.
"""


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_TARGET,
        min_frequency=1,
        show_progress=False,
        special_tokens=[SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TRAINING_TEXT.splitlines(keepends=True), trainer=trainer)
    return tok


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def round_to(arr32, dtype):
    """Round a float32 array to `dtype`; return (array_to_store, float64 array as stored)."""
    import torch

    if dtype == "float32":
        stored = arr32.astype(np.float32)
        return stored, stored.astype(np.float64)
    if dtype == "float16":
        stored = arr32.astype(np.float16)  # round-to-nearest-even
        return stored, stored.astype(np.float64)
    if dtype == "bfloat16":
        t = torch.from_numpy(arr32.astype(np.float32)).to(torch.bfloat16)  # RNE
        return t, t.to(torch.float32).numpy().astype(np.float64)
    raise ValueError(dtype)


def make_weights(spec, vocab):
    """Returns ordered dict name -> float32 array (before dtype rounding)."""
    rng = np.random.default_rng(spec["seed"])
    d, I, Is = HIDDEN, INTERMEDIATE, SMALL_INTERMEDIATE
    nq, nkv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM

    def lin(*shape, std=0.1):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm():
        return (1.0 + rng.normal(0.0, 0.1, size=(d,))).astype(np.float32)

    w = {"model.embed_tokens.weight": lin(vocab, d, std=0.3)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = lin(nq, d)
        w[p + "self_attn.k_proj.weight"] = lin(nkv, d)
        w[p + "self_attn.v_proj.weight"] = lin(nkv, d)
        w[p + "self_attn.o_proj.weight"] = lin(d, nq)
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "mlp.gate_proj.weight"] = lin(I, d)
        w[p + "mlp.up_proj.weight"] = lin(I, d)
        w[p + "mlp.down_proj.weight"] = lin(d, I)
        if spec["duo"]:
            w[p + "mlp_small.gate_proj.weight"] = lin(Is, d)
            w[p + "mlp_small.up_proj.weight"] = lin(Is, d)
            w[p + "mlp_small.down_proj.weight"] = lin(d, Is)
    w["model.norm.weight"] = norm()
    if not spec["tied"]:
        w["lm_head.weight"] = lin(vocab, d)
    return w


def make_config(spec, vocab, eos_id):
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "max_position_embeddings": MAX_POS,
        "rms_norm_eps": EPS,
        "rope_theta": ROPE_THETA,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.1,
        "tie_word_embeddings": spec["tied"],
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "torch_dtype": spec["dtype"],
    }
    if spec["duo"]:
        cfg["duo"] = DUO_SECTION
    return cfg


def write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


def save_tensors(path, tensors, dtype):
    """tensors: dict name -> np.ndarray (f32/f16) or torch.Tensor (bf16)."""
    meta = {"format": "pt"}
    if dtype == "bfloat16":
        # numpy has no bfloat16; use the torch API of the same safetensors library.
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
    else:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=meta)


def nbytes(t):
    return t.nbytes if isinstance(t, np.ndarray) else t.numel() * t.element_size()


def write_model(spec, out_dir, tokenizer_json, vocab, eos_id):
    mdir = out_dir / spec["name"]
    mdir.mkdir(parents=True, exist_ok=True)
    for old in list(mdir.glob("*.safetensors")) + list(mdir.glob("*.index.json")):
        old.unlink()

    raw = make_weights(spec, vocab)
    stored, ref = {}, {}
    for k, v in raw.items():
        stored[k], ref[k] = round_to(v, spec["dtype"])

    write_json(mdir / "config.json", make_config(spec, vocab, eos_id))
    (mdir / "tokenizer.json").write_bytes(tokenizer_json)

    if spec["shards"] == 1:
        save_tensors(mdir / "model.safetensors", stored, spec["dtype"])
    else:
        assert spec["shards"] == 2
        names = list(stored.keys())
        # shard 1: embeddings + first half of the layers; shard 2: the rest (+ final norm)
        split_prefix = f"model.layers.{LAYERS // 2}."
        cut = next(i for i, n in enumerate(names) if n.startswith(split_prefix))
        parts = [names[:cut], names[cut:]]
        weight_map = {}
        for si, part in enumerate(parts):
            fname = f"model-{si + 1:05d}-of-{len(parts):05d}.safetensors"
            save_tensors(mdir / fname, {n: stored[n] for n in part}, spec["dtype"])
            for n in part:
                weight_map[n] = fname
        total = sum(nbytes(t) for t in stored.values())
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        write_json(mdir / "model.safetensors.index.json", index)
    return ref


# ---------------------------------------------------------------------------
# Independent numpy reference forward
# ---------------------------------------------------------------------------

def rms_norm(x, w, eps=EPS):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope_cos_sin(T, dt):
    inv_freq = 1.0 / (ROPE_THETA ** (np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM))
    freqs = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)  # [T, hd]
    return np.cos(emb).astype(dt), np.sin(emb).astype(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def attention(xn, W, li, dt):
    T = xn.shape[0]
    p = f"model.layers.{li}.self_attn."
    q = (xn @ W[p + "q_proj.weight"].T).reshape(T, HEADS, HEAD_DIM)
    k = (xn @ W[p + "k_proj.weight"].T).reshape(T, KV_HEADS, HEAD_DIM)
    v = (xn @ W[p + "v_proj.weight"].T).reshape(T, KV_HEADS, HEAD_DIM)
    cos, sin = rope_cos_sin(T, dt)
    q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
    k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
    group = HEADS // KV_HEADS
    scale = dt(1.0 / np.sqrt(HEAD_DIM))
    causal = np.tril(np.ones((T, T), dtype=bool))
    out = np.zeros((T, HEADS, HEAD_DIM), dtype=dt)
    for h in range(HEADS):
        g = h // group
        s = (q[:, h, :] @ k[:, g, :].T) * scale
        s = np.where(causal, s, -np.inf)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        a = e / e.sum(axis=-1, keepdims=True)
        out[:, h, :] = a @ v[:, g, :]
    return out.reshape(T, HEADS * HEAD_DIM) @ W[p + "o_proj.weight"].T


def ffn(u, W, prefix):
    gate = u @ W[prefix + "gate_proj.weight"].T
    up = u @ W[prefix + "up_proj.weight"].T
    return (silu(gate) * up) @ W[prefix + "down_proj.weight"].T


def reference_forward(weights, ids, routes, dt=np.float64):
    """routes: [T][L] ints, 0 = skip, 1 = small, 2 = big. Returns logits [T, V] in dt."""
    W = {k: v.astype(dt) for k, v in weights.items()}
    ids = np.asarray(ids)
    routes = np.asarray(routes)
    T = len(ids)
    x = W["model.embed_tokens.weight"][ids]
    for li in range(LAYERS):
        p = f"model.layers.{li}."
        h = x + attention(rms_norm(x, W[p + "input_layernorm.weight"]), W, li, dt)
        u = rms_norm(h, W[p + "post_attention_layernorm.weight"])
        f = np.zeros_like(h)
        r = routes[:, li]
        if np.any(r == 2):
            f[r == 2] = ffn(u[r == 2], W, p + "mlp.")
        if np.any(r == 1):
            f[r == 1] = ffn(u[r == 1], W, p + "mlp_small.")
        x = h + f
        assert x.shape == (T, HIDDEN)
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return rms_norm(x, W["model.norm.weight"]) @ head.T


def token_losses(logits, ids):
    lg = logits[:-1].astype(np.float64)
    m = lg.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(lg - m).sum(axis=-1, keepdims=True)))[:, 0]
    tgt = np.asarray(ids[1:])
    return lse - lg[np.arange(len(tgt)), tgt]


# ---------------------------------------------------------------------------
# Golden outputs
# ---------------------------------------------------------------------------

def make_cases(spec, T, text_index):
    L = LAYERS
    rng = np.random.default_rng(spec["seed"] * 10 + text_index)
    cases = [("all-big", np.full((T, L), 2, dtype=np.int64))]
    if spec["duo"]:
        cases.append(("all-small", np.full((T, L), 1, dtype=np.int64)))
        cases.append(("mixed", rng.choice([0, 1, 2], size=(T, L), p=[0.2, 0.4, 0.4]).astype(np.int64)))
        cases.append(("all-skip", np.zeros((T, L), dtype=np.int64)))
    else:
        cases.append(("mixed-big-skip", rng.choice([0, 2], size=(T, L)).astype(np.int64)))
    return cases


def golden_for_model(spec, ref, tok):
    texts = []
    for ti, text in enumerate(GOLDEN_TEXTS):
        ids = tok.encode(text, add_special_tokens=False).ids
        T = len(ids)
        assert 2 <= T < MAX_POS, (text, T)
        entry = {"text": text, "ids": [int(i) for i in ids], "cases": []}
        for name, routes in make_cases(spec, T, ti):
            logits = reference_forward(ref, ids, routes, np.float64)
            losses = token_losses(logits, ids)
            case = {
                "name": name,
                "routes": routes.tolist(),
                "losses": [float(v) for v in losses],
                "mean_loss": float(losses.mean()),
            }
            if name == "all-big":
                case["logits_first3"] = [[float(v) for v in row] for row in logits[:3]]
                # stable ordering: descending logit, ties by ascending id
                order = np.lexsort((np.arange(logits.shape[1]), -logits[-1]))
                case["top5_last"] = [int(i) for i in order[:5]]
            entry["cases"].append(case)
        texts.append(entry)
    return texts


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def check_f32_vs_f64(spec, ref, golden_texts):
    worst = 0.0
    for entry in golden_texts:
        ids = entry["ids"]
        routes = np.full((len(ids), LAYERS), 2)
        l64 = reference_forward(ref, ids, routes, np.float64)
        l32 = reference_forward(ref, ids, routes, np.float32)
        assert l32.dtype == np.float32
        worst = max(worst, float(np.abs(l64 - l32.astype(np.float64)).max()))
    assert worst < 1e-4, f"{spec['name']}: numpy f32 vs f64 diff {worst}"
    return worst


def check_hf(spec, mdir, ref, golden_texts):
    import torch
    import transformers
    from transformers import LlamaForCausalLM

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model, info = LlamaForCausalLM.from_pretrained(
        str(mdir), dtype=torch.float32, local_files_only=True, output_loading_info=True
    )
    model.eval()
    missing = list(info.get("missing_keys", []))
    mismatched = list(info.get("mismatched_keys", []))
    unexpected = sorted(info.get("unexpected_keys", []))
    assert not missing, f"{spec['name']}: missing keys {missing}"
    assert not mismatched, f"{spec['name']}: mismatched keys {mismatched}"
    expected_unexpected = sorted(k for k in ref if ".mlp_small." in k)
    assert unexpected == expected_unexpected, f"{spec['name']}: unexpected keys {unexpected}"

    # Every parameter HF holds must be exactly what we wrote (no silent random init).
    sd = model.state_dict()
    for name, t in sd.items():
        if name == "lm_head.weight" and spec["tied"]:
            src = ref["model.embed_tokens.weight"]
        else:
            assert name in ref, f"{spec['name']}: HF has parameter {name} not in file"
            src = ref[name]
        got = t.detach().to(torch.float64).numpy()
        assert got.shape == src.shape, (name, got.shape, src.shape)
        assert np.array_equal(got, src), f"{spec['name']}: {name} differs from stored tensor"
    for name in ref:
        if ".mlp_small." not in name:
            assert name in sd, f"{spec['name']}: {name} not loaded by HF"
    if spec["tied"]:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "lm_head not tied"

    worst = 0.0
    for entry in golden_texts:
        ids = entry["ids"]
        with torch.no_grad():
            hf = model(torch.tensor([ids])).logits[0].to(torch.float64).numpy()
        routes = np.full((len(ids), LAYERS), 2)
        ours = reference_forward(ref, ids, routes, np.float64)
        worst = max(worst, float(np.abs(hf - ours).max()))
        allbig = next(c for c in entry["cases"] if c["name"] == "all-big")
        assert np.allclose(np.array(allbig["logits_first3"]), hf[:3], atol=1e-4, rtol=0)
        # HF loss matches our mean loss too
        with torch.no_grad():
            hf_loss = float(model(torch.tensor([ids]), labels=torch.tensor([ids])).loss)
        assert abs(hf_loss - allbig["mean_loss"]) < 1e-4, (hf_loss, allbig["mean_loss"])
    assert worst < 1e-4, f"{spec['name']}: HF vs numpy max abs diff {worst}"
    return worst


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("--out", type=Path, default=root / "Tests" / "Fixtures")
    ap.add_argument("--skip-hf-check", action="store_true", help="do not load the models with transformers")
    args = ap.parse_args()
    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    tok = build_tokenizer()
    vocab = tok.get_vocab_size(with_added_tokens=True)
    eos_id = tok.token_to_id(SPECIAL)
    assert vocab == VOCAB_TARGET, f"tokenizer vocab {vocab} != {VOCAB_TARGET}"
    tokenizer_json = (tok.to_str(pretty=True) + "\n").encode("utf-8")

    # Round-trip the serialized tokenizer and use *that* for the golden ids.
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    for text in GOLDEN_TEXTS:
        enc = tok.encode(text, add_special_tokens=False)
        assert tok.decode(enc.ids) == text, "tokenizer round trip failed"

    golden = {}
    refs = {}
    for spec in MODELS:
        refs[spec["name"]] = write_model(spec, out_dir, tokenizer_json, vocab, eos_id)
        golden[spec["name"]] = golden_for_model(spec, refs[spec["name"]], tok)

    write_json(out_dir / "golden.json", golden, indent=1)

    print(f"tokenizer: vocab {vocab} (special {SPECIAL!r} = id {eos_id})")
    for text, entry in zip(GOLDEN_TEXTS, golden[MODELS[0]["name"]]):
        print(f"  text {len(entry['ids']):2d} tokens: {text[:50]!r}...")
    for spec in MODELS:
        name = spec["name"]
        d32 = check_f32_vs_f64(spec, refs[name], golden[name])
        msg = f"{name:24s} {spec['dtype']:8s} numpy f32-vs-f64 {d32:.2e}"
        if not args.skip_hf_check:
            dhf = check_hf(spec, out_dir / name, refs[name], golden[name])
            msg += f"  HF-vs-numpy {dhf:.2e}"
        cases = ", ".join(
            f"{c['name']}={c['mean_loss']:.4f}" for c in golden[name][0]["cases"]
        )
        print(msg)
        print(f"    text0 mean losses: {cases}")
    total = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    print(f"all checks passed; {out_dir} total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(main())
