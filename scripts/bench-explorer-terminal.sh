#!/usr/bin/env bash
# Measures the explorer in a real terminal (tmux): time from launch to the first frame on the
# screen, and key-to-frame latency (key read to ncurses refresh done) over a scripted session.
# Usage: scripts/bench-explorer-terminal.sh [BINARY] [MODEL] [TEXT]
set -euo pipefail
BIN=${1:-.build/release/duoscope}
MODEL=${2:-sample-models/duo-12L}
TEXT=${3:-sample-models/texts/quotes.txt}
SOCK=duoscope-bench-$$
LOG=$(mktemp)
SNAP=$(mktemp -d)
trap 'tmux -L $SOCK kill-server 2>/dev/null || true; rm -rf "$LOG" "$SNAP"' EXIT
launch=$(date +%s.%N)
tmux -L $SOCK new-session -d -x 160 -y 48 -s bench \
  "TERM=xterm-256color DUOSCOPE_TIMING_LOG=$LOG $BIN explore $MODEL $TEXT --snapshots $SNAP"
until grep -q first-frame "$LOG" 2>/dev/null; do sleep 0.01; done
seen=$(date +%s.%N)
sleep 1
for view in 1 2 3 4 5; do
  tmux -L $SOCK send-keys -t bench "$view"; sleep 0.05
  for _ in $(seq 20); do tmux -L $SOCK send-keys -t bench l; sleep 0.03; tmux -L $SOCK send-keys -t bench j; sleep 0.03; done
done
tmux -L $SOCK send-keys -t bench q
sleep 0.5
first=$(awk '/first-frame/ { print $2 }' "$LOG")
keys=$(awk '/^key/ { print $2 }' "$LOG" | sort -n)
printf 'first frame drawn %s ms after the command started (seen by this script %.0f ms after launch)\n' "$first" "$(awk -v a="$launch" -v b="$seen" 'BEGIN { print (b - a) * 1000 }')"
echo "$keys" | awk '{ v[NR] = $1; sum += $1 } END {
  printf "key to frame on the terminal: %d keys, mean %.2f ms, median %.2f ms, p99 %.2f ms, max %.2f ms\n", NR, sum / NR, v[int(NR / 2) + 1], v[int(NR * 0.99)], v[NR] }'
