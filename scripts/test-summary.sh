#!/usr/bin/env bash
# Prints XCTest's final tally as one plain line: "tests: N passed, N failed, N skipped".
set -euo pipefail
line=$(grep -E "Executed [0-9]+ tests?, with" "$1" | tail -n 1)
[ -n "$line" ] || { echo "tests: no XCTest summary found in $1" >&2; exit 1; }
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$line")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$line")
skipped=0
grep -qE "[0-9]+ tests? skipped" <<<"$line" && skipped=$(sed -E 's/.*with ([0-9]+) tests? skipped.*/\1/' <<<"$line")
echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
