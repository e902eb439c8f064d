#!/usr/bin/env bash
# Reproduces the bundled sample model sample-models/duo-12L (stage 1: random 50/50 routing).
# Safe to re-run: with an existing checkpoint it resumes where the last run stopped.
#   scripts/train-sample-model.sh            # corpus -> (tokenizer already committed) -> training
#   RETRAIN_TOKENIZER=1 scripts/train-sample-model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-sample-models/duo-12L}
[ -f data/corpus/train.txt ] || scripts/prepare-corpus.sh
if [ "${RETRAIN_TOKENIZER:-0}" = 1 ] || [ ! -f "$OUT/tokenizer.json" ]; then
  python3 scripts/train_tokenizer.py --out "$OUT/tokenizer.json"
fi
make release >/dev/null
resume=()
[ -f "$OUT/checkpoint.safetensors" ] && resume=(--resume)
exec .build/release/duoscope train \
  --train data/corpus/train.txt --valid data/corpus/valid.txt \
  --tokenizer "$OUT/tokenizer.json" --out "$OUT" \
  --layers 12 --hidden 192 --heads 6 --kv-heads 2 --intermediate 768 --small 48 --context 256 \
  --batch 8 --steps 3000 --lr 3e-3 --warmup 100 --weight-decay 0.1 --seed 0 \
  --p-big 0.5 --p-small 0.5 --p-skip 0 \
  --checkpoint-every 100 --eval-every 250 --eval-windows 64 "${resume[@]}"
