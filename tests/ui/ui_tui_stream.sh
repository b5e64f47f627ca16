#!/bin/bash
# A prompt streams a reply into the chat pane; the text equals what the
# plain REPL and --batch give for the same prompt, seed and settings; Ctrl-D
# on the empty line exits 0 with the terminal settings restored.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
ARGS=(-m "$M" --seed 42 --temp 0.8 -n 24 --threads 2)

want_repl=$(printf 'Tell me a story\n' | "$CHORD" "${ARGS[@]}" --no-history | tr -d ' \n') \
    || fail "REPL run failed"
[ -n "$want_repl" ] || fail "the REPL gave an empty reply"

start "${ARGS[@]}" --db "$TMP/h.db"
T send-keys -t chord "Tell me a story" Enter
wait_for 'Esc stop|chord  ' 30 || die "no reply started"
idle 60
snap "reply done"
got=$(reply_text)
[ "$got" = "$want_repl" ] || die "TUI reply differs from the REPL's:
  tui:  $got
  repl: $want_repl"

# --batch renders and tokenizes the chat the same way when it has chat mode
if batch=$("$CHORD" --batch "${ARGS[@]}" -p "Tell me a story" --no-history 2>"$TMP/batch.err"); then
    [ "$(printf %s "$batch" | tr -d ' \n')" = "$want_repl" ] || die "TUI reply differs from --batch:
  tui:   $got
  batch: $(printf %s "$batch" | tr -d ' \n')"
else
    echo "NOTE: --batch has no chat mode here ($(head -c 200 "$TMP/batch.err")); compared with the REPL only"
fi

# the turn is in the history: user prompt, then the complete reply
"$CHORD" history --db "$TMP/h.db" show 1 --json > "$TMP/conv.json" || die "history show failed"
grep -q '"role": "assistant", "status": "complete"' "$TMP/conv.json" || die "no complete assistant row: $(cat "$TMP/conv.json")"
grep -q '"content": "Tell me a story"' "$TMP/conv.json" || die "no user row"

T send-keys -t chord C-d
check_exit
echo "ok: reply ${#got} non-space bytes, identical to the REPL; exit 0, tty restored"
