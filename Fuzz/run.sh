#!/usr/bin/env bash
# Runs duoscope's libFuzzer harnesses one after another (never in parallel) and fails if any of
# them finds a crash, a hang (-timeout) or an out-of-memory (-rss_limit_mb).
#   Fuzz/run.sh SECONDS [TARGET...]     (default: every target; run from the repository root)
# Each target's scratch corpus is .build-fuzz/corpus/TARGET, seeded from Fuzz/seeds/TARGET and the
# fixture files listed below; findings go to .build-fuzz/artifacts/TARGET/, logs to
# .build-fuzz/logs/TARGET.log, and one line per target to .build-fuzz/logs/summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: Fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config index tokenizer router policy text)
bin=${DUOFUZZ_BIN:-.build-fuzz/duofuzz}
out=.build-fuzz

# Fixture files each target's corpus starts from, besides Fuzz/seeds/TARGET (kept out of Fuzz/ to
# avoid copies; the larger fixtures are left out to keep executions fast).
seeds_safetensors="Tests/Fixtures/hf-checkpoints/llama-v5/model-0000[2-8]-of-00008.safetensors
  sample-models/duo-12L/routers/k2.safetensors"
seeds_config="Tests/Fixtures/*/config.json Tests/Fixtures/hf-checkpoints/*/config.json sample-models/duo-12L/config.json"
seeds_index="Tests/Fixtures/tiny-model-f16-sharded/model.safetensors.index.json
  Tests/Fixtures/hf-checkpoints/llama-v5/model.safetensors.index.json"
seeds_tokenizer="Tests/Fixtures/tokenizer/*-*.json Tests/Fixtures/tiny-model/tokenizer.json"
seeds_router="sample-models/duo-12L/routers/k2.safetensors"
seeds_policy=""
seeds_text="sample-models/texts/*.txt"

# The Swift runtime's own crash backtracer (swift-backtrace) stalls under ASan + libFuzzer; libFuzzer prints the stack.
export SWIFT_BACKTRACE=enable=no
# Leaks outside duoscope's code that LeakSanitizer must not report (each explained in the file).
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
[ -x "$bin" ] || { echo "fuzz: $bin missing (make fuzz-build)"; exit 2; }
mkdir -p "$out/logs"
summary="$out/logs/summary.txt"
: > "$summary"
failed=()
for target in "${targets[@]}"; do
  list="seeds_$target"
  [ -d "Fuzz/seeds/$target" ] || { echo "fuzz: unknown target $target"; exit 2; }
  corpus="$out/corpus/$target" artifacts="$out/artifacts/$target" log="$out/logs/$target.log"
  mkdir -p "$corpus" "$artifacts"
  for f in Fuzz/seeds/"$target"/* ${!list}; do
    case "$f" in *cases.json) continue ;; esac   # token-id tables, not tokenizers
    [ -f "$f" ] && cp "$f" "$corpus/seed-${f//\//_}"
  done
  dict=()
  case "$target" in
    policy) dict=(-dict=Fuzz/policy.dict) ;;
    text) ;;
    *) dict=(-dict=Fuzz/json.dict) ;;
  esac
  echo "fuzz: $target for ${seconds}s (corpus $corpus)"
  started=$SECONDS
  DUOFUZZ_TARGET=$target "$bin" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 -close_fd_mask=1 > "$log" 2>&1
  rc=$?
  elapsed=$((SECONDS - started))
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$done_line")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<< "$done_line")
  corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<< "$done_line")
  result=ok
  [ $rc -eq 0 ] || { result="FAILED (exit $rc, see $log, inputs in $artifacts)"; failed+=("$target"); }
  line="$target: ${elapsed}s of ${seconds}s execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?}"
  line+=" peak_rss=${rss:-?}MB $result"
  echo "fuzz: $line"
  echo "$line" >> "$summary"
  if [ $rc -ne 0 ]; then
    grep -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|Fatal error|duofuzz invariant|SUMMARY|Test unit written' "$log" \
      | head -8 | sed 's/^/  /'
  fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzz: findings in: ${failed[*]}"; exit 1; fi
echo "fuzz: no findings"
