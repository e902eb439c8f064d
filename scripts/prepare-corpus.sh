#!/usr/bin/env bash
# Build the duoscope training corpus under data/corpus/ from two Debian packages:
#   bible-kjv  the King James Bible (the `bible` program)
#   fortunes   the classic fortune(6) cookie files (/usr/share/games/fortunes/)
#
# Output (UTF-8, LF line ends, deterministic, rebuilt from scratch on every run):
#   data/corpus/train.txt   training split
#   data/corpus/valid.txt   validation split (whole Bible books + whole fortune files held out)
#   data/corpus/SPLIT.md    what is held out, sizes and counts
#
# Format: one document per block, documents separated by exactly one blank line; documents
# themselves contain no blank lines. A document is one Bible chapter (one verse per line, no
# "Gen1:1" reference markers, no headings) or one fortune entry (its lines as printed by
# fortune(6), tabs kept, trailing blanks, internal blank lines and control characters removed,
# backspace overstrikes such as "_\bI" or "___\b\b\band" resolved to the visible text).
# Order: Bible chapters in canonical order, then fortune files in C-locale name order, entries in
# file order.
#
# Needs only apt (to install the two packages, with sudo when not root) and base tools
# (bash, coreutils, mawk/gawk, iconv, grep). The tokenizer is trained separately:
#   python3 scripts/train_tokenizer.py
#
# Usage: scripts/prepare-corpus.sh [OUTDIR]      (default: data/corpus under the repo root)
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$ROOT/data/corpus}"
FORTUNE_DIR=/usr/share/games/fortunes

# Held out for validation. Bible books use the abbreviations of `bible -f` output.
VALID_BOOKS="Ruth Est Eccl Lam Amos Jonah Gal Jas Phmn Jude"
VALID_FORTUNES="humorists literature startrek"
# Fortune files left out of both splits (not prose).
EXCLUDED_FORTUNES="ascii-art"
# Integrity check on the Bible dump.
EXPECTED_VERSES=31102
EXPECTED_BOOKS=66

# --- 1. packages ---------------------------------------------------------------------------
have_packages() {
    command -v bible >/dev/null 2>&1 && [ -f "$FORTUNE_DIR/fortunes" ]
}
if ! have_packages; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    echo "installing bible-kjv and fortunes with apt-get..." >&2
    if ! $SUDO apt-get install -y --no-install-recommends bible-kjv fortunes >&2; then
        # package lists missing or stale: update once and retry
        $SUDO apt-get update >&2
        $SUDO apt-get install -y --no-install-recommends bible-kjv fortunes >&2
    fi
    have_packages || { echo "error: bible-kjv/fortunes not available after install" >&2; exit 1; }
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# --- 2. the Bible: one verse per line, "Book<chapter>:<verse> text" -------------------------
# -f prints each verse on one line (unwrapped when stdout is not a terminal); COLUMNS is
# cleared so an interactive setting cannot re-wrap it.
COLUMNS= bible -f gen1:1-rev22:21 > "$TMP/kjv.txt"
nverses=$(wc -l < "$TMP/kjv.txt")
if [ "$nverses" -ne "$EXPECTED_VERSES" ]; then
    echo "error: bible printed $nverses verses, expected $EXPECTED_VERSES" >&2; exit 1
fi
if grep -qvE '^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ [^ ]' "$TMP/kjv.txt"; then
    echo "error: unexpected line format in bible output:" >&2
    grep -vE '^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ [^ ]' "$TMP/kjv.txt" | head -3 >&2; exit 1
fi
nbooks=$(cut -d' ' -f1 "$TMP/kjv.txt" | sed -E 's/[0-9]+:[0-9]+$//' | uniq | wc -l)
if [ "$nbooks" -ne "$EXPECTED_BOOKS" ]; then
    echo "error: found $nbooks books, expected $EXPECTED_BOOKS" >&2; exit 1
fi
for b in $VALID_BOOKS; do
    grep -qE "^${b}[0-9]+:" "$TMP/kjv.txt" || { echo "error: no book '$b' in bible output" >&2; exit 1; }
done

# --- 3. the fortune files, as UTF-8 ------------------------------------------------------------
# Only regular files at the top level (no off/ directory, no .u8 symlinks), no .dat indexes.
mkdir -p "$TMP/fortunes"
: > "$TMP/fortune-notes.txt"
for f in "$FORTUNE_DIR"/*; do
    name="$(basename "$f")"
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    case "$name" in *.dat|*.u8|*.*) continue ;; esac
    case " $EXCLUDED_FORTUNES " in *" $name "*)
        echo "- \`$name\`: excluded (ASCII art, not prose)" >> "$TMP/fortune-notes.txt"; continue ;;
    esac
    if iconv -f UTF-8 -t UTF-8 "$f" > "$TMP/fortunes/$name" 2>/dev/null; then
        :
    elif iconv -f ISO-8859-1 -t UTF-8 "$f" > "$TMP/fortunes/$name" 2>/dev/null \
            && ! grep -q $'\xc2[\x80-\x9f]' "$TMP/fortunes/$name"; then
        echo "- \`$name\`: converted from Latin-1" >> "$TMP/fortune-notes.txt"
    else
        echo "- \`$name\`: skipped (neither UTF-8 nor clean Latin-1)" >> "$TMP/fortune-notes.txt"
        rm -f "$TMP/fortunes/$name"
        echo "warning: skipping $f (encoding)" >&2
    fi
done
for v in $VALID_FORTUNES; do
    [ -f "$TMP/fortunes/$v" ] || { echo "error: held-out fortune file '$v' missing" >&2; exit 1; }
done
# C-locale sorted list (glob order under LC_ALL=C)
fortune_files=("$TMP"/fortunes/*)

# --- 4. split and format ------------------------------------------------------------------------
awk -v TRAIN="$TMP/train.txt" -v VALID="$TMP/valid.txt" -v STATS="$TMP/stats.txt" \
    -v KJV="$TMP/kjv.txt" -v VBOOKS="$VALID_BOOKS" -v VFORT="$VALID_FORTUNES" '
function flush() {
    if (doc != "") {
        out = (split_ == "valid") ? VALID : TRAIN
        if (ndocs[split_]++) printf "\n" > out
        printf "%s", doc > out
        if (src != "") srcdocs[src]++
    }
    doc = ""
}
function addline(s) {
    sub(/[ \t]+$/, "", s)
    if (s ~ /^[ \t]*$/) return          # no blank lines inside a document
    doc = doc s "\n"
}
BEGIN {
    ndocs["train"] = 0; ndocs["valid"] = 0
    n = split(VBOOKS, a, " "); for (i = 1; i <= n; i++) vbook[a[i]] = 1
    n = split(VFORT, a, " ");  for (i = 1; i <= n; i++) vfort[a[i]] = 1
    curkey = ""
}
FILENAME == KJV {
    ref = $1
    text = substr($0, length(ref) + 2)
    gsub(/  +/, " ", text)
    book = ref; sub(/[0-9]+:[0-9]+$/, "", book)
    chap = substr(ref, length(book) + 1); sub(/:.*/, "", chap)
    key = book " " chap
    if (key != curkey) {
        flush()
        curkey = key
        split_ = (book in vbook) ? "valid" : "train"
        src = "bible:" book
    }
    addline(text)
    next
}
FNR == 1 {                               # a new fortune file
    flush()
    name = FILENAME; sub(/.*\//, "", name)
    split_ = (name in vfort) ? "valid" : "train"
    src = "fortune:" name
}
{
    line = $0
    if (line == "%") { flush(); next }
    # resolve backspace overstrikes: each \b erases the character before it
    while ((p = index(line, "\b")) > 0)
        line = substr(line, 1, (p > 1 ? p - 2 : 0)) substr(line, p + 1)
    gsub(/[\001-\010\013-\037\177]/, "", line)   # other control characters (bells, CRs...)
    addline(line)
}
END {
    flush()
    printf "" > TRAIN; printf "" > VALID
    for (k in srcdocs) print k, srcdocs[k] > STATS
    print "total:train", ndocs["train"] > STATS
    print "total:valid", ndocs["valid"] > STATS
}' "$TMP/kjv.txt" "${fortune_files[@]}"

# drop training documents that duplicate a held-out one (the fortune files share a few quotes);
# compared case- and whitespace-insensitively
awk -v VALID="$TMP/valid.txt" -v OUT="$TMP/train.dedup.txt" -v STATS="$TMP/stats.txt" '
function norm(s) { s = tolower(s); gsub(/[ \t\n]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s); return s }
BEGIN {
    RS = ""
    while ((getline d < VALID) > 0) held[norm(d)] = 1
    close(VALID)
}
{
    if (norm($0) in held) { dropped++; next }
    if (kept++) printf "\n" > OUT
    printf "%s\n", $0 > OUT
}
END {
    print "dropped:train", dropped + 0 >> STATS
    print "kept:train", kept + 0 >> STATS
}' "$TMP/train.txt"
mv -f "$TMP/train.dedup.txt" "$TMP/train.txt"

# every document ends with a newline; files end with exactly one newline
for s in train valid; do
    [ -s "$TMP/$s.txt" ] || { echo "error: empty $s split" >&2; exit 1; }
    iconv -f UTF-8 -t UTF-8 "$TMP/$s.txt" > /dev/null || { echo "error: $s.txt is not UTF-8" >&2; exit 1; }
done

# --- 5. SPLIT.md -----------------------------------------------------------------------------------
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/stats.txt"; }
book_name() {
    case "$1" in
        Ruth) echo "Ruth" ;; Est) echo "Esther" ;; Eccl) echo "Ecclesiastes" ;;
        Lam) echo "Lamentations" ;; Amos) echo "Amos" ;; Jonah) echo "Jonah" ;;
        Gal) echo "Galatians" ;; Jas) echo "James" ;; Phmn) echo "Philemon" ;; Jude) echo "Jude" ;;
        *) echo "$1" ;;
    esac
}
verse_bytes() {  # bytes of a book's verse text (one line each) in the corpus
    grep -E "^$1[0-9]+:" "$TMP/kjv.txt" | sed -E 's/^[^ ]+ //; s/  +/ /g' | wc -c
}
bible_total=$(sed -E 's/^[^ ]+ //; s/  +/ /g' "$TMP/kjv.txt" | wc -c)
valid_bible=0
{
    echo "# duoscope corpus split"
    echo
    echo "Generated by \`scripts/prepare-corpus.sh\` from the Debian packages"
    echo "\`bible-kjv\` $(dpkg-query -W -f='${Version}' bible-kjv 2>/dev/null || echo '?') and"
    echo "\`fortunes\` $(dpkg-query -W -f='${Version}' fortunes 2>/dev/null || echo '?')."
    echo "Documents are separated by one blank line: a Bible chapter (one verse per line, no"
    echo "references) or a fortune entry. Everything not listed below as held out is training data."
    echo
    echo "## Held out (valid.txt)"
    echo
    echo "Bible books (whole books):"
    echo
    echo "| book | chapters | verses | bytes |"
    echo "|---|---:|---:|---:|"
    for b in $VALID_BOOKS; do
        vb=$(verse_bytes "$b"); valid_bible=$((valid_bible + vb))
        echo "| $(book_name "$b") | $(stat_of "bible:$b") | $(grep -cE "^$b[0-9]+:" "$TMP/kjv.txt") | $vb |"
    done
    echo
    echo "Held-out Bible text: $valid_bible of $bible_total bytes" \
         "($(awk -v a="$valid_bible" -v b="$bible_total" 'BEGIN { printf "%.2f", 100 * a / b }')%)."
    echo
    echo "Fortune files (whole files, from $FORTUNE_DIR):"
    echo
    echo "| file | entries | bytes (source) |"
    echo "|---|---:|---:|"
    for v in $VALID_FORTUNES; do
        echo "| $v | $(stat_of "fortune:$v") | $(wc -c < "$TMP/fortunes/$v") |"
    done
    echo
    echo "## Training fortune files"
    echo
    echo "| file | entries |"
    echo "|---|---:|"
    for f in "${fortune_files[@]}"; do
        name="$(basename "$f")"
        case " $VALID_FORTUNES " in *" $name "*) continue ;; esac
        echo "| $name | $(stat_of "fortune:$name") |"
    done
    if [ -s "$TMP/fortune-notes.txt" ]; then
        echo
        echo "Notes:"
        echo
        cat "$TMP/fortune-notes.txt"
    fi
    echo
    echo "## Files"
    echo
    echo "| file | bytes | lines | documents |"
    echo "|---|---:|---:|---:|"
    echo "| train.txt | $(wc -c < "$TMP/train.txt") | $(wc -l < "$TMP/train.txt") | $(stat_of kept:train) |"
    echo "| valid.txt | $(wc -c < "$TMP/valid.txt") | $(wc -l < "$TMP/valid.txt") | $(stat_of total:valid) |"
    echo
    echo "$(stat_of dropped:train) training documents were dropped because they duplicate a held-out"
    echo "document (same text ignoring case and whitespace); the per-file entry counts above are before"
    echo "that."
    echo
    echo "sha256:"
    echo
    echo '```'
    (cd "$TMP" && sha256sum train.txt valid.txt)
    echo '```'
} > "$TMP/SPLIT.md"

# --- 6. install atomically-ish -------------------------------------------------------------------
mkdir -p "$OUTDIR"
for f in train.txt valid.txt SPLIT.md; do
    cp "$TMP/$f" "$OUTDIR/.$f.tmp" && mv -f "$OUTDIR/.$f.tmp" "$OUTDIR/$f"
done

# --- 7. summary ------------------------------------------------------------------------------------
echo "corpus written to $OUTDIR"
for s in train valid; do
    if [ "$s" = train ]; then n=$(stat_of kept:train); else n=$(stat_of total:valid); fi
    printf "  %-5s %9d bytes %7d lines %6d documents\n" "$s" \
        "$(wc -c < "$OUTDIR/$s.txt")" "$(wc -l < "$OUTDIR/$s.txt")" "$n"
done
echo "  ($(stat_of dropped:train) training documents dropped as duplicates of held-out ones)"
echo "  held out: Bible books: $VALID_BOOKS; fortune files: $VALID_FORTUNES"
