#!/bin/bash
# A prompt streams a reply into the chat pane; the text equals what the
# plain REPL and --batch give for the same prompt, seed and settings; Ctrl-D
# on the empty line exits 0 with the terminal settings restored.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
ARGS=(-m "$M" --seed 42 --temp 0.8 -n 24 --threads 2)

# the reference: --batch for the same prompt, seed and settings; the plain
# REPL must print exactly the same bytes
"$CHORD" --batch "${ARGS[@]}" -p "Tell me a story" --no-history > "$TMP/batch.out" 2> "$TMP/batch.err" \
    || fail "--batch failed: $(cat "$TMP/batch.err")"
printf 'Tell me a story\n' | "$CHORD" "${ARGS[@]}" --no-history > "$TMP/repl.out" || fail "REPL run failed"
cmp -s "$TMP/batch.out" "$TMP/repl.out" || fail "REPL reply differs from --batch:
  batch: $(cat "$TMP/batch.out")
  repl:  $(cat "$TMP/repl.out")"
want=$(tr -d ' \n' < "$TMP/batch.out")
[ -n "$want" ] || fail "--batch gave an empty reply"

start "${ARGS[@]}" --db "$TMP/h.db"
T send-keys -t chord "Tell me a story" Enter
wait_for 'Esc stop|chord  ' 30 || die "no reply started"
idle 60
snap "reply done"
got=$(reply_text)
# the screen wraps lines (spaces move), so compare without whitespace
[ "$got" = "$want" ] || die "TUI reply differs from --batch:
  tui:   $got
  batch: $want"

# the turn is in the history: user prompt, then the complete reply
"$CHORD" history --db "$TMP/h.db" show 1 --json > "$TMP/conv.json" || die "history show failed"
grep -q '"role": "assistant", "status": "complete"' "$TMP/conv.json" || die "no complete assistant row: $(cat "$TMP/conv.json")"
grep -q '"content": "Tell me a story"' "$TMP/conv.json" || die "no user row"

# a second turn reuses the cache through the first reply (its tokens as
# sampled) like --batch does in one two-turn run, and must agree with it
printf 'Tell me a story\nAnd then?\n' | "$CHORD" --batch "${ARGS[@]}" --no-history > "$TMP/batch2.out" 2> "$TMP/batch2.err" \
    || die "--batch two turns failed: $(cat "$TMP/batch2.err")"
[ "$(sed -n 1p "$TMP/batch2.out" | tr -d ' \n')" = "$want" ] || die "--batch's first of two turns differs from -p"
want2=$(sed -n 2p "$TMP/batch2.out" | tr -d ' \n')
T send-keys -t chord "And then?" Enter
wait_for '^│ you    And then' 10 || die "second prompt not shown"
sleep 0.2
idle 60
snap "second reply done"
got2=$(reply_text)
[ "$got2" = "$want2" ] || die "second TUI reply differs from --batch's second turn:
  tui:   $got2
  batch: $want2"

T send-keys -t chord C-d
check_exit
echo "ok: reply ${#got} non-space bytes, identical to --batch and the REPL; exit 0, tty restored"
