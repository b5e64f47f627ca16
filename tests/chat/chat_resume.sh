#!/bin/bash
# chat_resume: a conversation's KV cache saved at the end of a --batch run
# ($XDG_CACHE_HOME/chord/kv) and loaded by -c: the resumed turn keeps what
# the uninterrupted process kept, prefills only the rest and replies with
# the same tokens (greedy, and sampled with a fixed seed; a sliding-window
# model whose rings wrapped; a q8_0 / q4_0 cache). A file that does not
# match (corrupt, truncated, a touched or another model, another template,
# other cache types) is ignored with a note and the turn is prefilled as
# with --kv-store 0. --kv-store caps the folder (least recently used
# first); history rm removes a conversation's file; history stats counts
# them. Synthetic models only (chat_resume_shared runs the shared fixture).
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
cd "$TMP" || fail "cd"
. "$CHORD_TESTS/chat/chat_resume_lib.sh"

Q=(--arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 --vocab 512 --type Q8_0)
"$CHORD" synth "${Q[@]}" -o m.gguf > /dev/null || fail "synth"
"$CHORD" synth "${Q[@]}" --seed 2 -o m2.gguf > /dev/null || fail "synth m2"
G=(-n 12 --temp 0)

TURN1="hello there, how are you today?"
TURN2="tell me about the sea"
TURN3="and the mountains?"
resume_check g m.gguf "${G[@]}"
resume_check s m.gguf -n 12 --temp 0.8 --seed 7
# the REPL (the TUI's chat driver): /history ID loads the file (/stats
# counts what it kept); a file it cannot use gets a note
rm -rf "$KV" && cp -a g-snap/kv "$KV" && cp g-snap/r.db g-r.db
out=$(printf '/history 1\n%s\n/stats\n' "$TURN3" | "$CHORD" --no-tui -m m.gguf --db g-r.db "${G[@]}" 2>&1) ||
    fail "REPL: $out"
n=$(echo "$out" | sed -nE 's/.*; ([0-9]+) more reused from the cache.*/\1/p')
[ "$n" = "$(done_field g-full.out n_cached)" ] || fail "REPL /history 1 reused ${n:-nothing}: $out"
rm -rf "$KV" && cp -a g-snap/kv "$KV" && cp g-snap/r.db g-r.db
truncate -s -8 "$KV"/*.kv
out=$(printf '/history 1\n%s\n/stats\n' "$TURN3" | "$CHORD" --no-tui -m m.gguf --db g-r.db "${G[@]}" 2>&1) ||
    fail "REPL: $out"
echo "$out" | grep -q "^(saved KV cache ignored, prefilling: .*truncated" || fail "REPL: a cut file, no note: $out"
echo "$out" | grep -q "; 0 more reused from the cache" || fail "REPL: a cut file was used: $out"
echo "REPL: /history 1 loaded the file ($n tokens reused), a cut one ignored with a note"

# without the file (the reference for the files ignored below)
resume_run g g-pre m.gguf "${G[@]}" --kv-store 0
grep -q "KV cache of conversation" g-pre.err && fail "--kv-store 0 loaded a cache"
[ "$(done_field g-pre.out n_cached)" = 0 ] || fail "--kv-store 0 reused $(done_field g-pre.out n_cached) tokens"

# a byte changed in the rows, in the header; the file cut short
MANGLE='sz=$(stat -c %s "$KVF"); printf "\x5a" | dd of="$KVF" bs=1 seek=$((sz / 2)) conv=notrunc status=none' \
    resume_run g g-rows m.gguf "${G[@]}"
ignored_check g g-rows "corrupt \(checksum\)"
MANGLE='printf "\x07" | dd of="$KVF" bs=1 seek=120 conv=notrunc status=none' \
    resume_run g g-head m.gguf "${G[@]}"
ignored_check g g-head "corrupt header"
MANGLE='truncate -s -100 "$KVF"' resume_run g g-trunc m.gguf "${G[@]}"
ignored_check g g-trunc "truncated"
MANGLE=': > "$KVF"' resume_run g g-empty m.gguf "${G[@]}"
ignored_check g g-empty "truncated"
# the model file changed (its time), another model, another template
cp -p m.gguf m-saved.gguf
MANGLE='touch -d "2001-01-01 00:00:00" m.gguf' resume_run g g-touch m.gguf "${G[@]}"
ignored_check g g-touch "another version of the model file"
cp -p m-saved.gguf m.gguf
resume_run g g-other m2.gguf "${G[@]}"
grep -q "another model's" g-other.err || fail "another model: no note: $(cat g-other.err)"
[ "$(done_field g-other.out n_cached)" = 0 ] || fail "another model reused tokens"
resume_run g g-tmpl m.gguf "${G[@]}" --chat-template chatml
grep -q "another chat template" g-tmpl.err || fail "another template: no note: $(cat g-tmpl.err)"
echo "ignored: corrupt rows and header, truncated, empty, touched model, another model, another template"

# a sliding-window model (gemma3, window 32: the local layers keep rings
# of 416 positions) with a conversation longer than a ring
"$CHORD" synth --arch gemma3 --dim 64 --layers 6 --heads 4 --kv-heads 2 --head-dim 32 --ffn 128 \
    --vocab 512 --type Q8_0 --window 32 -o w.gguf > /dev/null || fail "synth gemma3"
long=$(for i in $(seq 60); do printf 'word%d ' "$i"; done)
TURN1="first: $long"
TURN2="second: $long"
TURN3="third: $long"
resume_check w w.gguf -n 16 --temp 0
[ "$(done_field w-res.out n_cached)" -gt 416 ] || fail "the windowed conversation ($(done_field w-res.out n_cached) tokens) fits a ring"
# a quantized cache: its rows as they are; a file of other types is ignored
resume_check q w.gguf -n 16 --temp 0 --cache-type-k q8_0 --cache-type-v q4_0
resume_run q q-f16 w.gguf -n 16 --temp 0
grep -q "another KV cache layout" q-f16.err || fail "q8_0/q4_0 file loaded into an F16 cache: $(cat q-f16.err)"

# the cap: the least recently used file goes
TURN1="hello there"; TURN2="more"
rm -rf "$KV"
printf '%s\n%s\n' "$TURN1" "$TURN2" | "$CHORD" --batch -m m.gguf --db cap.db "${G[@]}" > /dev/null 2>&1 || fail "cap run 1"
one=$(stat -c %s "$KV"/*.kv)
cap=$((one * 3 / 2))
sleep 0.05
printf '%s\n%s\n' "$TURN1" "$TURN2" | "$CHORD" --batch -m m.gguf --db cap.db "${G[@]}" --kv-store "$cap" > /dev/null 2>&1 || fail "cap run 2"
[ "$(kv_files)" = 1 ] || fail "cap $cap: $(kv_files) files kept"
ls "$KV" | grep -q -- "-2-" || fail "cap: the newest conversation's file was evicted: $(ls "$KV")"
echo "the cap evicted the older file"
"$CHORD" --batch -m m.gguf --db cap.db "${G[@]}" --kv-store 100 -p "x" > /dev/null 2>&1 || fail "cap run 3"
[ "$(kv_files)" = 0 ] || fail "a cap below one file kept $(kv_files)"
printf '%s\n' "$TURN1" | "$CHORD" --batch -m m.gguf --db cap.db "${G[@]}" > /dev/null 2>&1 || fail "run 4"
# stats, then rm
"$CHORD" history --db cap.db stats > stats.txt || fail "history stats"
grep -Eq "^KV store .*\(1 file, " stats.txt || fail "stats: $(cat stats.txt)"
"$CHORD" history --db cap.db stats --json | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["kv_store_files"] == 1 and j["kv_store_bytes"] > 0, j' ||
    fail "stats --json"
id=$(ls "$KV" | sed -E 's/^[0-9a-f]+-([0-9]+)-.*/\1/')
"$CHORD" history --db cap.db rm "$id" --yes > rm.txt || fail "history rm"
grep -q "deleted 1 saved KV cache" rm.txt || fail "rm: $(cat rm.txt)"
[ "$(kv_files)" = 0 ] || fail "history rm left $(kv_files) files"
echo PASS
