#!/bin/bash
# chat_resume_shared: chat_resume's checks on the shared a-spm model (a
# real SentencePiece vocabulary and zephyr template, so the last reply's
# sampled tokens, which its text need not re-tokenize to, come back from
# the file) and on the Gemma 3 and Phi-3 fixtures: the resumed turn's reply
# is the uninterrupted run's, greedy and with a fixed seed; a corrupt file
# and a touched copy of the model are ignored with a note and re-prefilled.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
need_shared models/a-spm-q8_0.gguf models/g-gemma3-q8_0.gguf models/i-phi3-q8_0.gguf
cd "$TMP" || fail "cd"
. "$CHORD_TESTS/chat/chat_resume_lib.sh"
cp "$A_MODEL" a.gguf || fail "cp"
G=(-n 16 --temp 0)
TURN1="Once upon a time there was a little dog."
TURN2="What did the dog do next?"
TURN3="And then?"
resume_check a a.gguf "${G[@]}"
resume_check as a.gguf -n 16 --temp 0.9 --seed 12345
resume_check g "$SHARED/models/g-gemma3-q8_0.gguf" "${G[@]}"
resume_check p "$SHARED/models/i-phi3-q8_0.gguf" "${G[@]}"

resume_run a a-pre a.gguf "${G[@]}" --kv-store 0
MANGLE='sz=$(stat -c %s "$KVF"); printf "\x01" | dd of="$KVF" bs=1 seek=$((sz - 20)) conv=notrunc status=none' \
    resume_run a a-rows a.gguf "${G[@]}"
ignored_check a a-rows "corrupt \(checksum\)"
MANGLE='touch -d "2001-01-01 00:00:00" a.gguf' resume_run a a-touch a.gguf "${G[@]}"
ignored_check a a-touch "another version of the model file"
echo PASS
