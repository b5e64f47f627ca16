#!/bin/bash
# Hostile GGUF files (lying counts, lengths, dimensions, offsets): chord
# inspect and chord --batch refuse each with one line naming the file and
# exit 1, with bounded peak memory (see hostile_gguf.py).
. "$CHORD_TESTS/common/lib.sh"
command -v python3 >/dev/null || { [ -n "${CI:-}" ] && fail "python3 missing under CI"; echo "SKIP: no python3"; exit 77; }
python3 "$CHORD_TESTS/hardening/hostile_gguf.py" "$CHORD" "$TMP" || fail "a hostile GGUF was not refused cleanly"
