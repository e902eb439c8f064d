#!/usr/bin/env bash
# Renders the README's figures: every explorer view of the bundled model on quotes.txt exported
# as SVG by `duoscope snapshot`, converted to PNG (rsvg-convert from Debian's librsvg2-bin) into
# docs/images/VIEW-quotes.png. Results come from the result cache when they are there; from
# scratch the Summary takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || { echo "rsvg-convert missing: apt-get install librsvg2-bin" >&2; exit 1; }
bin=${DUOSCOPE:-.build/release/duoscope}
[ -x "$bin" ] || { echo "build first: make release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for view in routes compare difficulty layers summary; do
    "$bin" snapshot sample-models/duo-12L sample-models/texts/quotes.txt --view "$view" --format svg --out "$work/$view.svg"
    rsvg-convert -z 1.5 "$work/$view.svg" -o "docs/images/$view-quotes.png"
    echo "docs/images/$view-quotes.png"
done
