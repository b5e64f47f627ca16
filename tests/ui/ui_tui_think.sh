#!/bin/bash
# A reasoning reply generated live in the TUI (ui_tui_reasoning covers one
# resumed from the history): while the model is still in its thinking the
# reply shows it whole and dimmed; once the answer has begun the thinking
# folds to one dimmed line with its length in words, the answer below it;
# F3 shows the thinking whole, F3 again folds it; the history keeps the
# two parts apart. /think off and /think on set the template's
# enable_thinking: the prompt the model is fed is the one --batch --think
# off / on renders (same token count in /stats as --batch's n_prompt), and
# with it off the reply is all answer (no thinking to fold). At 120x40 and
# 60x20.
#
# Self-contained: a synthetic Qwen3 model (its vocabulary has the think
# tags) and a template that opens the thinking itself (as the R1 distills
# do) unless enable_thinking is false (then it closes it empty, as Qwen3's
# does). A random model closes its thinking only by chance, so --batch
# --json first finds a seed whose reply thinks, closes the block and goes
# on answering; the TUI, given the same seed, gives the same tokens. -n
# then stops a reply in its thinking (the frame a stream shows before its
# answer) or lets it answer (a synthetic model runs thousands of tokens a
# second: no frame would land mid-reply reliably).
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
command -v python3 >/dev/null || fail "python3 is needed"
cd "$TMP" || fail "cd"
M="$TMP/q3.gguf"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"
cat > think.jinja <<'EOF'
{%- for m in messages %}<|im_start|>{{ m['role'] }}
{{ m['content'] }}<|im_end|>
{% endfor %}{%- if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking is false %}<think>

</think>

{% else %}<think>
{% endif %}{%- endif %}
EOF
Q="what time is it"
B=(--batch -m "$M" --chat-template think.jinja --temp 3 --no-history --json)

# scan FILE: "k words n_gen" when the reply thinks k >= 3 tokens (n words),
# closes the block and answers with at least 4 tokens of its own; else fails
scan() {
    python3 - "$1" <<'PY'
import json, re, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
tok = [e for e in ev if e["event"] == "token"]
parts = [t.get("part", "answer") for t in tok]
k = 0
while k < len(parts) and parts[k] == "reasoning":
    k += 1
ans = [t for t in tok[k + 1:] if t.get("part", "answer") == "answer"]
if k < 3 or k >= len(parts) or parts[k] != "markup" or len(ans) < 4 \
        or any(p != "answer" for p in parts[k + 1:]) or not all(t["text"].strip() for t in ans[:4]):
    sys.exit(1)
think = "".join(t["text"] for t in tok[:k])
words = len(re.findall(r"[^ \t\r\n]+", think))
if words < 1:
    sys.exit(1)
print(k, words, len(tok))
PY
}
seed=""
for s in $(seq 1 300); do
    echo "$Q" | "$CHORD" "${B[@]}" -n 60 --seed "$s" > b.json 2> /dev/null || fail "batch --seed $s"
    if r=$(scan b.json); then
        seed=$s
        break
    fi
done
[ -n "$seed" ] || fail "no seed in 1..300 gives a reply that thinks and then answers"
read -r K WORDS NGEN <<< "$r"
# what --batch feeds the model with enable_thinking on (the template's
# default here) and off: the whole prompt, in tokens
ntok() { python3 -c 'import json,sys; d=[json.loads(l) for l in open(sys.argv[1])]; d=[e for e in d if e["event"]=="done"][0]; print(d["n_prompt"]+d["n_cached"])' "$1"; }
echo "$Q" | "$CHORD" "${B[@]}" -n 60 --seed "$seed" --think on > on.json 2>/dev/null || fail "--think on"
echo "$Q" | "$CHORD" "${B[@]}" -n 60 --seed "$seed" --think off > off.json 2>/dev/null || fail "--think off"
P_ON=$(ntok on.json)
P_OFF=$(ntok off.json)
[ "$P_ON" != "$P_OFF" ] || fail "--think on and off render the same prompt ($P_ON tokens)"
grep -q '"part":"reasoning"' off.json && fail "--think off: the reply still thinks"
echo "seed $seed: $K thinking tokens ($WORDS words), $NGEN tokens in all; prompt $P_ON tokens on, $P_OFF off"

TUI=(-m "$M" --chat-template think.jinja --temp 3 --seed "$seed" --no-history)
# the lines of the last reply (from its "chord" line to the input box; the
# chat column, its blank lines left out)
reply_lines() {
    screen | awk -F'│' '/^│ chord /{on=1; s=""} on && /^├/{on=0}
        on {x = $2; sub(/├.*/, "", x); sub(/ +$/, "", x); if (x != "") s = s x "\n"} END{printf "%s", s}'
}
# reply_done: a reply is shown and has ended (no cursor after it): the key
# hints that idle waits for do not fit the status line at 60 columns
reply_done() { wait_cmd 20 eval "shows '^│ chord ' && hides '▌'" || die "the reply did not end"; }
unmark() { sed -E 's/ \[(cut at -n [0-9]+|interrupted)\]//'; }
# the same with the escapes, to see the attributes
reply_esc() {
    local span
    span=$(screen | awk '/^│ chord /{a=NR; b=0} a && !b && /^├/{b=NR-1} END{if (!b) b=NR; print a "," b}')
    # the chat column only (the side panes have attributes of their own)
    T capture-pane -p -e -t chord | sed -n "${span}p" | awk -F'│' '{print $2}'
}
# undimmed: no dimmed text on the line(s) read, but for a reply's mark
undimmed() { sed -E $'s/\e\\[2m \\[(cut at -n [0-9]+|interrupted)\\].*//' | grep -qE $'\e\\[([0-9;]*;)?2(;[0-9;]*)?m[^\e]*[[:graph:]]' && return 1; return 0; }
# dim: SGR 2 (a parameter of its own: not 32, green) on the line(s) read
dim() { grep -qE $'\e\\[([0-9;]*;)?2(;[0-9;]*)?m'; }
# prompt_fed: the last reply's whole prompt in tokens (prefilled + reused
# from the cache), from /stats, read in the chat column (the note wraps)
# (after /clear: the notes then fit a 60x20 screen from their first line)
column() { screen | awk -F'│' 'NF >= 3 {print $2}' | tr '\n' ' ' | tr -s ' '; }
stats_shown() { column | grep -q 'last reply: prompt [0-9]* tok in .* more reused from the cache'; }
prompt_fed() {
    T send-keys -t chord "/clear" Enter
    wait_gone '^│ chord ' 5 || die "/clear left the reply"
    T send-keys -t chord "/stats" Enter
    wait_cmd 5 stats_shown || die "/stats did not answer"
    column | sed -nE 's/.*last reply: prompt ([0-9]+) tok in .* ([0-9]+) more reused from the cache.*/\1 \2/p' |
        awk '{print $1 + $2}'
    T send-keys -t chord "/clear" Enter
    wait_cmd 5 eval '! stats_shown' || die "/clear left the /stats notes"
}

run_size() {   # W H
    local W=$1 H=$2 tag="$1x$2"
    # --- stopped in its thinking: shown whole, dimmed, nothing folded ---
    start "${TUI[@]}" -n "$K"
    [ "$W" = 120 ] || T resize-window -t chord -x "$W" -y "$H"
    T send-keys -t chord "$Q" Enter
    wait_for "cut at -n $K" 20 || die "$tag: the reply did not end at -n $K"
    shows 'thought for' && die "$tag: a reply still in its thinking is folded"
    local think1; think1=$(reply_lines | head -1 | unmark)
    reply_esc | head -1 | dim || die "$tag: the thinking is not dimmed: $(reply_esc | head -1 | cat -v)"
    snap "$tag: thinking only"
    T send-keys -t chord C-d
    check_exit

    # --- answered: folded to one dimmed line with its length, F3 ---
    start "${TUI[@]}" -n "$NGEN"
    [ "$W" = 120 ] || T resize-window -t chord -x "$W" -y "$H"
    T send-keys -t chord "$Q" Enter
    wait_for "thought for $WORDS words? \\(F3 shows it\\)" 20 \
        || die "$tag: the thinking is not folded to 'thought for $WORDS words'"
    reply_done
    wait_for "thought for $WORDS words?" 5 || die "$tag: the folded line went at the end"
    local folded; folded=$(reply_lines | wc -l)
    reply_lines | head -1 | grep -q 'thought for' || die "$tag: the folded line does not open the reply"
    reply_esc | grep 'thought for' | dim || die "$tag: the folded line is not dimmed"
    # the answer below it is not dimmed
    reply_esc | sed -n '2,$p' | undimmed \
        || die "$tag: the answer is dimmed: $(reply_esc | sed -n 2p | cat -v)"
    snap "$tag: folded"
    T send-keys -t chord F3
    wait_gone 'thought for' 5 || die "$tag: F3 did not show the thinking"
    [ "$(reply_lines | head -1 | unmark)" = "$think1" ] \
        || die "$tag: F3 does not show the thinking first: $(reply_lines | head -1) vs $think1"
    [ "$(reply_lines | wc -l)" -ge "$folded" ] || die "$tag: F3 shows fewer lines"
    reply_esc | head -1 | dim || die "$tag: the thinking shown by F3 is not dimmed"
    snap "$tag: F3"
    T send-keys -t chord F3
    wait_for "thought for $WORDS words?" 5 || die "$tag: F3 again did not fold it"
    [ "$(reply_lines | wc -l)" = "$folded" ] || die "$tag: folded again, not as before"
    screen | while IFS= read -r l; do
        [ "$(printf '%s' "$l" | wc -m)" -le "$W" ] || die "$tag: a line wider than the pane: $l"
    done

    # --- /think off: the prompt --batch --think off renders, no thinking ---
    T send-keys -t chord "/think off" Enter
    wait_for 'thinking off' 5 || die "$tag: /think off said nothing"
    T send-keys -t chord "/new" Enter
    wait_gone 'thought for' 5 || die "$tag: /new kept the reply"
    T send-keys -t chord "$Q" Enter
    reply_done
    shows 'thought for' && die "$tag: /think off: the reply still thinks"
    reply_esc | undimmed \
        || die "$tag: /think off: the reply is dimmed: $(reply_esc | cat -v)"
    local fed; fed=$(prompt_fed)
    [ "$fed" = "$P_OFF" ] || die "$tag: /think off fed ${fed:-?} prompt tokens, --think off $P_OFF"
    snap "$tag: /think off"

    # --- /think on: back to the prompt that opens the thinking ---
    T send-keys -t chord "/think on" Enter
    wait_for 'thinking on' 5 || die "$tag: /think on said nothing"
    T send-keys -t chord "/new" Enter
    wait_gone '^│ chord ' 5 || die "$tag: /new kept the reply"
    T send-keys -t chord "$Q" Enter
    wait_for "thought for $WORDS words?" 20 || die "$tag: /think on: the reply does not think as before"
    reply_done
    fed=$(prompt_fed)
    [ "$fed" = "$P_ON" ] || die "$tag: /think on fed ${fed:-?} prompt tokens, --think on $P_ON"
    snap "$tag: /think on"
    T send-keys -t chord C-d
    check_exit
}
run_size 120 40
run_size 60 20

# the history keeps the parts apart (a recorded run)
start -m "$M" --chat-template think.jinja --temp 3 --seed "$seed" -n "$NGEN" --db "$TMP/h.db"
T send-keys -t chord "$Q" Enter
wait_for "thought for $WORDS words?" 20 || die "recorded: not folded"
idle 20
T send-keys -t chord C-d
check_exit
python3 - "$TMP/h.db" "$K" <<'PY' || fail "the history does not keep the thinking apart"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
content, reasoning = c.execute("SELECT content, reasoning FROM messages WHERE role = 'assistant'").fetchone()
sys.exit(0 if reasoning and reasoning.strip() and content.strip() and "</think>" not in content
         and "<think>" not in reasoning else 1)
PY
echo "ok: thinking dimmed, folded to $WORDS words, F3 both ways, /think off|on feed $P_OFF|$P_ON prompt tokens (120x40, 60x20)"
