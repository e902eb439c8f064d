#!/usr/bin/env python3
"""duoscope against PyTorch on the same weights, in one sitting, as the table of docs/benchmarks.md.

Runs, on an otherwise idle machine, --rounds rounds (3 by default) of, one after another:
  1. `duoscope bench MODEL --json` (prefill, decode, oracle tree with every leaf's loss and with
     the bounded LM head that the policies use, training step, sgemm peak);
  2. scripts/bench_torch_inference.py MODEL (prefill, decode, naive batched oracle; same weights);
  3. scripts/bench_torch_train.py (training step of the same shape);
then once `duoscope bench --json` with OPENBLAS_CORETYPE=Prescott (OpenBLAS's generic fallback,
which duoscope replaces) and with OPENBLAS_CORETYPE=Prescott DUOSCOPE_BLAS_CORE=keep (the
fallback kept and flagged). It prints a Markdown table of tokens/s, GFLOP/s, fraction of the
sgemm peak and the ratio to PyTorch, with the CPU and the BLAS kernels.

Shared cloud machines change speed by tens of percent within minutes, so one run of each side
compares two different machines. The rounds alternate the two sides; the table gives each side's
best round (the sgemm peak too), and beside it the ratio of each round, so the spread shows.

A round's two prefills lie a minute or more apart. Then --pairs pairs (6 by default) time the
all-big prefill of both sides right after one another, the order alternating, each side the best
run over --seconds after a warm-up (`duoscope bench --only prefill`; PyTorch in this process, the
model loaded once), and as many pairs the training step (`duoscope bench --only train`,
scripts/bench_torch_train.py): the ratio of each pair and their median. --rounds 0 runs the
pairs alone.

Usage: python3 scripts/bench_side_by_side.py [MODEL] [--duoscope .build/release/duoscope] [--seconds 2] [--rounds 3] [--pairs 6]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_json(command, env=None):
    out = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    return json.loads(out)


def duoscope_report(binary, model, seconds, parts, env=None):
    """`duoscope bench MODEL --json` over the named parts (`--only` each)."""
    return run_json([binary, "bench", model, "--seconds", str(seconds), "--json"]
                    + [arg for part in parts for arg in ("--only", part)], env)


def duoscope_bench(binary, model, seconds, env=None):
    report = duoscope_report(binary, model, seconds, ["prefill", "decode", "oracle", "train"], env)
    prefixes = {"prefill": "prefill 256 tokens, all-big", "decode": "decode 256 tokens, all-big", "oracle": "oracle tree",
                "oracle bounded": "oracle bounded", "oracle naive": "oracle naive", "train": "train step"}
    return report, {key: figure(report, prefix) for key, prefix in prefixes.items()}


def torch_prefill(model_dir):
    """A function that times PyTorch's all-big prefill of 256 tokens as `duoscope bench` times its
    own: one warm-up run, then runs until `seconds` have passed; tokens/s of the best run."""
    import torch
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_torch_inference import load

    torch.set_num_threads(2)
    model, a = load(model_dir)
    tokens = min(256, a.context)
    ids = torch.randint(0, a.vocab, (1, tokens), generator=torch.Generator().manual_seed(0))
    big = torch.full((a.layers, tokens), 2)

    def measure(seconds):
        with torch.no_grad():
            model(ids, big)
            best, start = float("inf"), time.perf_counter()
            while True:
                t0 = time.perf_counter()
                model(ids, big)
                best = min(best, time.perf_counter() - t0)
                if time.perf_counter() - start >= seconds:
                    return tokens / best
    return measure


def paired(name, ours, theirs, pairs):
    """`ours()` and `theirs()` (tokens/s each) timed right after one another, `pairs` times, the
    order alternating; prints each pair's ratio and their median."""
    rates = []
    for i in range(pairs):
        print(f"{name}: pair {i + 1} of {pairs}", file=sys.stderr)
        if i % 2 == 0:
            a = ours()
            b = theirs()
        else:
            b = theirs()
            a = ours()
        rates.append((a, b))
    ratios = sorted(a / b for a, b in rates)
    median = (ratios[(len(ratios) - 1) // 2] + ratios[len(ratios) // 2]) / 2
    print(f"{name}, in {len(rates)} pairs timed back to back (duoscope first in odd pairs, PyTorch first in even ones):\n")
    print("| pair | duoscope tokens/s | PyTorch tokens/s | duoscope / PyTorch |")
    print("|---:|---:|---:|---:|")
    for i, (a, b) in enumerate(rates):
        print(f"| {i + 1} | {a:,.0f} | {b:,.0f} | {a / b:.2f}x |")
    print(f"\nMedian ratio {median:.2f}x (range {ratios[0]:.2f}x-{ratios[-1]:.2f}x).")


def paired_prefill(args):
    """Both sides' all-big prefill of 256 tokens, each the best run over --seconds after a warm-up
    (PyTorch in this process, the model loaded once)."""
    theirs = torch_prefill(args.model)

    def ours():
        report = duoscope_report(args.duoscope, args.model, args.seconds, ["prefill"])
        return figure(report, "prefill 256 tokens, all-big")["tokens_per_second"]
    paired(f"Prefill of 256 tokens, all-big (each side the best run over {args.seconds:g} s)", ours,
           lambda: theirs(args.seconds), args.pairs)


def paired_training(args):
    """Both sides' training step of 8 x 256 tokens (random 50/50 routing, AdamW): `duoscope bench
    --only train` and scripts/bench_torch_train.py, each in its own process."""
    def ours():
        report = duoscope_report(args.duoscope, args.model, args.seconds, ["train"])
        return figure(report, "train step")["tokens_per_second"]

    def theirs():
        return run_json([sys.executable, str(ROOT / "scripts" / "bench_torch_train.py"), "--json"])["tokens_per_s"]
    paired("Training step 8 x 256, random 50/50 (AdamW)", ours, theirs, args.pairs)


def figure(report, prefix):
    """The figure of a `duoscope bench --json` report whose name starts with `prefix`."""
    return next(f for f in report["figures"] if f["name"].startswith(prefix))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(ROOT / "sample-models" / "duo-12L"))
    ap.add_argument("--duoscope", default=str(ROOT / ".build" / "release" / "duoscope"))
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of both sides, alternating (each side's best is compared)")
    ap.add_argument("--pairs", type=int, default=6, help="prefill pairs and training pairs timed back to back (0: none)")
    args = ap.parse_args()
    if args.rounds > 0:
        rounds_and_table(args)
    if args.pairs > 0:
        print()
        paired_prefill(args)
        print()
        paired_training(args)
    return 0


def rounds_and_table(args):
    """The alternating rounds of both sides and the table of each side's best round."""
    rounds = []
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", file=sys.stderr)
        report, ours = duoscope_bench(args.duoscope, args.model, args.seconds)
        torch_inf = run_json([sys.executable, str(ROOT / "scripts" / "bench_torch_inference.py"), args.model, "--json"])
        torch_train = run_json([sys.executable, str(ROOT / "scripts" / "bench_torch_train.py"), "--json"])
        torch_rates = {"prefill": torch_inf["prefill_tokens_per_s"], "decode": torch_inf["decode_tokens_per_s"],
                       "oracle": torch_inf["oracle_naive_tokens_per_s"], "oracle bounded": torch_inf["oracle_naive_tokens_per_s"],
                       "oracle naive": torch_inf["oracle_naive_tokens_per_s"],
                       "train": torch_train["tokens_per_s"]}
        rounds.append((report, ours, torch_inf, torch_rates))
    fixed, fixed_figs = duoscope_bench(args.duoscope, args.model, args.seconds, {"OPENBLAS_CORETYPE": "Prescott"})
    kept, kept_figs = duoscope_bench(args.duoscope, args.model, args.seconds,
                                     {"OPENBLAS_CORETYPE": "Prescott", "DUOSCOPE_BLAS_CORE": "keep"})

    report, _, torch_inf, _ = rounds[0]
    peaks = [r[0]["sgemm_peak_gflops"] for r in rounds]
    peak = max(peaks)
    blas = report["blas"]
    print(f"CPU: {blas['cpu']} ({', '.join(blas['cpu_features'])}); BLAS: {blas['library']}, kernels {blas['core']}; "
          f"sgemm peak {peak:.1f} GFLOP/s (best of {len(rounds)} rounds: {', '.join(f'{p:.0f}' for p in peaks)}); "
          f"PyTorch: {torch_inf['framework']}, {torch_inf['threads']} threads\n")
    print("| figure | duoscope tokens/s | GFLOP/s | of sgemm peak | PyTorch tokens/s | duoscope / PyTorch | each round |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = {"prefill": "prefill 256 tokens, all-big", "decode": "decode 256 tokens one at a time, all-big",
              "oracle": "oracle: all 4096 patterns of one token (duoscope: tree; PyTorch: naive batched)",
              "oracle bounded": "oracle: best of each k of one token (duoscope: tree, bounded LM head; PyTorch: naive batched)",
              "oracle naive": "oracle: each pattern run separately (duoscope) vs naive batched (PyTorch)",
              "train": "training step 8 x 256, random 50/50 (AdamW)"}
    for key, label in labels.items():
        f = max((r[1][key] for r in rounds), key=lambda f: f["tokens_per_second"])
        rate = f["tokens_per_second"]
        theirs = max(r[3][key] for r in rounds)
        each = ", ".join(f"{r[1][key]['tokens_per_second'] / r[3][key]:.2f}x" for r in rounds)
        print(f"| {label} | {rate:,.2f} | {f['gflops']:.1f} | {100 * f['gflops'] / peak:.0f}% | "
              f"{theirs:,.2f} | {rate / theirs:.2f}x | {each} |")
    best_decode = max(rounds, key=lambda r: r[1]["decode"]["tokens_per_second"])
    decode, bandwidth = best_decode[1]["decode"], best_decode[0].get("read_bandwidth_gbs")
    if bandwidth and decode.get("bytes_per_token"):
        bound = bandwidth * 1e9 / decode["bytes_per_token"]
        print(f"\nDecode's memory bound in its best round: {bandwidth:.1f} GB/s read over a working set of the weights, "
              f"{decode['bytes_per_token'] / 1e6:.1f} MB per token: {bound:,.0f} tokens/s; "
              f"duoscope at {100 * decode['tokens_per_second'] / bound:.0f}% of it.")
    print()
    print("OPENBLAS_CORETYPE=Prescott (the generic fallback of an OpenBLAS that does not know the CPU):\n")
    print("| figure | replaced by duoscope (default) | kept (DUOSCOPE_BLAS_CORE=keep) |")
    print("|---|---:|---:|")
    print(f"| BLAS kernels | {fixed['blas']['core']} | {kept['blas']['core']} (flagged: generic fallback "
          f"{'yes' if kept['blas']['generic_fallback'] else 'no'}) |")
    print(f"| sgemm peak GFLOP/s | {fixed['sgemm_peak_gflops']:.1f} | {kept['sgemm_peak_gflops']:.1f} |")
    for key in ["prefill", "decode", "oracle", "oracle bounded", "train"]:
        print(f"| {labels[key]} tokens/s | {fixed_figs[key]['tokens_per_second']:,.2f} | {kept_figs[key]['tokens_per_second']:,.2f} |")


if __name__ == "__main__":
    sys.exit(main())
