#!/usr/bin/env bash
# Stages 2 and 3 on the bundled sample model: held-out perplexity, routers at several budgets,
# the oracle/fixed/router/random sweep, and beam-search quality. Writes into sample-models/duo-12L/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-sample-models/duo-12L}
STEPS=${ROUTER_STEPS:-200}
BIN=${BIN:-.build/release/duoscope}
[ -x "$BIN" ] || make release >/dev/null
[ -f data/corpus/train.txt ] || scripts/prepare-corpus.sh
mkdir -p "$MODEL/eval"

# Held-out perplexity of the whole validation split under all-big, all-small and random 50/50.
"$BIN" perplexity "$MODEL" --file data/corpus/valid.txt --format markdown | tee "$MODEL/eval/perplexity.md"

# Stage 3: routers at k = 2, 4, 6, 8 of 12 big layers, and one ternary router with skip.
for k in 2 4 6 8; do
  budget=$(python3 -c "print(round($k/12, 4))")
  "$BIN" train-router "$MODEL" --train data/corpus/train.txt --valid data/corpus/valid.txt \
    --budget "$budget" --steps "$STEPS" --name "k$k" | tee -a "$MODEL/eval/routers.txt"
done
"$BIN" train-router "$MODEL" --train data/corpus/train.txt --valid data/corpus/valid.txt \
  --routes skip,small,big --budget 0.5 --steps "$STEPS" --name skip-0.5 | tee -a "$MODEL/eval/routers.txt"

# The sweep on the held-out sample texts (each a document, joined by <|endoftext|>).
cat sample-models/texts/*.txt > "$MODEL/eval/heldout.txt"
"$BIN" eval "$MODEL" --file "$MODEL/eval/heldout.txt" --out "$MODEL/eval" > /dev/null

# Beam search against exhaustive ternary search (FFN budget 0.5) on a short held-out passage.
"$BIN" oracle "$MODEL" --text "$(head -c 120 sample-models/texts/scripture-ruth.txt)" --budget 0.5 \
  --compare-beams 16,64,256 | tee "$MODEL/eval/beam-quality.md"
