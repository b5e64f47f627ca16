#!/bin/bash
# Taking turns back in a chat (/undo, /retry, /edit) keeps the KV cache in
# step: the next prompt reuses the cached prefix (/stats: "N more reused")
# and the greedy reply is exactly what a fresh process gives for the same
# conversation. The history keeps the old rows, marked (chord history show
# lists them as alternative / removed; --continue leaves them out). Also
# /system (shows, sets, --clear), /think on|off through the template's
# enable_thinking, -p without --batch as the first message, and the
# batch-only flags refused in a chat. Driven through the plain REPL
# (stdin a pipe), which shares the commands and the chat with the TUI.
. "$CHORD_TESTS/common/lib.sh"
M="$TMP/q3.gguf"
DB="$TMP/h.db"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"
G=(-m "$M" --temp 0 -n 8)
# batch ARGS...: a fresh process's reply lines (stdin: the user turns).
fresh() { "$CHORD" --batch "${G[@]}" --no-history "$@"; }
repl() { "$CHORD" --no-tui "${G[@]}" "$@" 2> "$TMP/err"; }

# --- /undo: the second question as if the first was never asked ---
want=$(echo 'what is up' | fresh) || fail "batch"
out=$(printf 'hello there\n/undo\nwhat is up\n/stats\n' | repl --db "$DB") || fail "repl: $(cat "$TMP/err")"
echo "$out" | grep -qx 'took the last exchange back' || fail "/undo said nothing: $out"
got=$(echo "$out" | sed -n '3p')
[ "$got" = "$want" ] || fail "after /undo the reply is '$got', a fresh process gives '$want'"
echo "$out" | grep -qE 'more reused from the cache' || fail "/stats has no reuse count: $out"
# no --ctx: the synth model's own context (qwen3's 40960), and /stats says how it was chosen
echo "$out" | grep -qF "context 40960 tokens (the model's own" || fail "/stats does not say how the context was sized: $out"
n=$(echo "$out" | sed -nE 's/.*; ([0-9]+) more reused from the cache.*/\1/p')
[ "${n:-0}" -gt 0 ] || fail "after /undo nothing of the cache was reused: $out"
show=$("$CHORD" history --db "$DB" show 1) || fail "history show"
echo "$show" | grep -qx '## User (removed)' || fail "the undone question is not listed as removed: $show"
echo "$show" | grep -qx '## Assistant (removed)' || fail "the undone reply is not listed as removed: $show"

# --- /retry: same reply again (greedy), the old one kept as an alternative ---
out=$(printf 'what is up\n/retry\n/stats\n' | repl --db "$DB") || fail "repl /retry"
r1=$(echo "$out" | sed -n 1p)
r2=$(echo "$out" | sed -n 2p)
[ "$r1" = "$want" ] && [ "$r2" = "$want" ] || fail "/retry (greedy) gave '$r2' after '$r1', want '$want'"
n=$(echo "$out" | sed -nE 's/.*; ([0-9]+) more reused from the cache.*/\1/p')
[ "${n:-0}" -gt 0 ] || fail "/retry did not reuse the cached prompt: $out"
"$CHORD" history --db "$DB" show 2 --json > "$TMP/2.json" || fail "history show --json"
grep -c '"superseded": "alternative"' "$TMP/2.json" | grep -qx 1 || fail "no alternative in: $(cat "$TMP/2.json")"
[ "$("$CHORD" history --db "$DB" show 2 | grep -c '^## Assistant')" = 2 ] || fail "both replies are not listed"
# resuming leaves the alternative out: a follow-up gives what it gives
# after resuming the same exchange recorded without a retry (both come
# back as text; a random model's reply need not re-tokenize as sampled)
echo 'what is up' | "$CHORD" --batch "${G[@]}" --db "$TMP/plain.db" > /dev/null || fail "batch record"
want2=$(echo 'and then' | "$CHORD" --batch "${G[@]}" --db "$TMP/plain.db" --resume 1)
got2=$(echo 'and then' | "$CHORD" --batch "${G[@]}" --db "$DB" --resume 2) || fail "batch --resume"
[ "$got2" = "$want2" ] || fail "resumed after /retry: '$got2', want '$want2'"

# --- /edit: the next line replaces the last exchange ---
want=$(echo 'tell me more' | fresh)
out=$(printf 'hello there\n/edit\ntell me more\n' | repl --db "$DB") || fail "repl /edit"
got=$(echo "$out" | sed -n 2p)
[ "$got" = "$want" ] || fail "after /edit the reply is '$got', want '$want'"
"$CHORD" history --db "$DB" show 3 | grep -qx '## User (alternative)' || fail "the edited question is not kept"
# nothing to take back
printf '/undo\n/retry\n/edit\n' | repl --no-history > "$TMP/o"
grep -q '/undo: no exchange to take back' "$TMP/o" || fail "/undo on nothing: $(cat "$TMP/o")"
grep -q '/retry: no exchange to take back' "$TMP/o" || fail "/retry on nothing"
grep -q '/edit: no message to edit' "$TMP/o" || fail "/edit on nothing"

# --- /system ---
out=$(printf '/system\n/system You are terse.\n/system\n/system --clear\n/system\n' | repl --no-history)
echo "$out" | sed -n 1p | grep -q '^no system prompt (/system TEXT sets one)$' || fail "/system: $out"
echo "$out" | grep -qx 'system prompt: You are terse.' || fail "/system does not show it: $out"
echo "$out" | sed -n 5p | grep -q '^no system prompt' || fail "/system --clear: $out"
want=$(echo hi | fresh --system 'Be brief.')
got=$(printf '/system Be brief.\nhi\n' | repl --no-history | sed -n 2p)
[ "$got" = "$want" ] || fail "/system TEXT: '$got', want '$want'"

# --- /think: Qwen3's template reads enable_thinking ---
J="$SHARED/ref/chat/qwen3.jinja"
if [ -r "$J" ]; then
    np() { echo hi | fresh --chat-template "$J" --json "$@" | sed -nE 's/.*"n_prompt":([0-9]+).*/\1/p' | tail -1; }
    on=$(np --think on); off=$(np --think off); def=$(np)
    [ -n "$on" ] && [ "$off" -gt "$on" ] && [ "$def" = "$on" ] \
        || fail "--think off should add the empty think block (tokens on $on, off $off, default $def)"
    want=$(echo hi | fresh --chat-template "$J" --think off)
    out=$(printf '/think\n/think off\nhi\n' | repl --no-history --chat-template "$J")
    echo "$out" | sed -n 1p | grep -q '^thinking: ' || fail "/think: $out"
    [ "$(echo "$out" | sed -n 3p)" = "$want" ] || fail "/think off: '$(echo "$out" | sed -n 3p)', want '$want'"
else
    [ -z "${CI:-}" ] || fail "qwen3.jinja fixture missing"
fi
# a template without the switch says so
printf '/think off\n' | repl --no-history --chat-template chatml | grep -q 'has no thinking switch' \
    || fail "/think on a template without enable_thinking"

# --- -p without --batch; batch-only flags ---
want=$(echo 'hello there' | fresh)
got=$("$CHORD" --no-tui "${G[@]}" --no-history -p 'hello there' < /dev/null) || fail "-p in the REPL"
[ "$got" = "$want" ] || fail "-p without --batch: '$got', want '$want'"
for f in --raw --json --token-ids "--prompt-tokens 1"; do
    # shellcheck disable=SC2086
    "$CHORD" -m "$M" $f --no-history < /dev/null > "$TMP/o" 2> "$TMP/e"
    rc=$?
    [ $rc = 2 ] || fail "$f without --batch: exit $rc"
    [ "$(wc -l < "$TMP/e")" = 1 ] && grep -q "only means something with --batch" "$TMP/e" \
        || fail "$f without --batch: $(cat "$TMP/e")"
done
echo "ok: /undo /retry /edit reuse the cache and match a fresh process; history marks; /system; /think; -p"
