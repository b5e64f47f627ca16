#!/bin/bash
# A reply's Markdown in the TUI: a stored conversation whose reply has every
# construct (heading, bold, italic, inline code, lists, a quote, a fenced
# code block with a line wider than the screen, a table, a link, a rule)
# resumed at 120x40 and at 60x20. The screen shows it rendered: no '#' or
# '**', bold drawn bold, the code framed with its language and the long line
# cut with a marker, the table's separators in one column on every row,
# bullets, the quote's bar, the link's URL. /raw shows the text as written;
# /code 1 (and F4) shows the block whole in a viewer that scrolls sideways.
# Self-contained: a synthetic Qwen3 model and a history written by chord,
# then given the reply's text with sqlite3.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the shell) is needed"
export LC_ALL=C.UTF-8
M="$TMP/q3.gguf"
DB="$TMP/h.db"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"
echo "show me everything" | "$CHORD" --batch -m "$M" -n 4 --temp 0 --db "$DB" > /dev/null || fail "batch"
LONG='    return "this line is far wider than the frame of the chat pane, so it is cut" # END_OF_LINE'
cat > "$TMP/reply.md" <<EOF
# Release notes

Some **bold words** and *slanted* and \`inline code\` here.

- first item
- second item
  - nested item

1. one
2. two

> a quoted line

\`\`\`python
def f():
$LONG
\`\`\`

| name | size | note |
|------|-----:|------|
| alpha | 1 | a |
| beta-long-name | 22222 | b |
| 中文α | 333 | c |

See [the docs](https://example.org/docs) now.

Wide: 中文 and café x.

Tab:	y.

---

Done.
EOF
sqlite3 "$DB" "UPDATE messages SET content = CAST(readfile('$TMP/reply.md') AS TEXT) WHERE role = 'assistant'" \
    || fail "sqlite3 update"

# row: the screen's first line that matches PATTERN (grep -E).
row() { screen | grep -E -m1 -- "$1"; }
# col LINE TEXT: the screen column (in cells: CJK counts two) where TEXT
# starts in LINE after the pane's left border, or -1.
col() {
    local l="${1#│}" p
    case "$l" in *"$2"*) p="${l%%"$2"*}"; printf '%s' "$p" | wc -L ;; *) echo -1 ;; esac
}

# seek PATTERN...: from the top, a page down at a time until the screen
# shows every PATTERN (the 60x20 screen holds the reply a part at a time).
all_shown() { local p; for p in "$@"; do shows "$p" || return 1; done; }
# A key is drawn a moment after send-keys returns: each check first waits
# for the screen the key brings (the top shows the user's line; a page down
# changes the screen), or it could pass on the screen before the key.
BEFORE=
changed() { [ "$(screen)" != "$BEFORE" ]; }
seek() {
    T send-keys -t chord Home
    wait_for '^│ you    show me everything' 3 || return 1
    local i
    for i in 1 2 3 4 5 6; do
        wait_cmd 1 all_shown "$@" && return 0
        BEFORE=$(screen)
        T send-keys -t chord NPage
        wait_cmd 2 changed
    done
    return 1
}

# The table's rows: each one's first separator in the same column.
check_table() {
    local h a b r
    h=$(row '(name|nam).*size') || die "no table header"
    a=$(row 'alpha') || die "no table row alpha"
    b=$(row 'beta-long-name') || die "no table row beta"
    r=$(row '─┼─') || die "no table rule"
    local ch ca cb cr
    ch=$(col "$h" "│"); ca=$(col "$a" "│"); cb=$(col "$b" "│"); cr=$(col "$r" "┼")
    local w cw
    w=$(row '中文α') || die "no table row with wide characters"
    cw=$(col "$w" "│")
    [ "$ch" -ge 0 ] && [ "$ch" = "$ca" ] && [ "$ch" = "$cb" ] && [ "$ch" = "$cr" ] && [ "$ch" = "$cw" ] \
        || die "table columns not aligned: header $ch, alpha $ca, beta $cb, wide $cw, rule $cr"
    # the size column is right-aligned: 1 and 22222 end in the same column
    local e1 e2
    e1=$(( $(col "$a" " 1 ") + 2 )); e2=$(( $(col "$b" "22222") + 5 ))
    [ "$e1" = "$e2" ] || die "the size column is not right-aligned ($e1, $e2)"
}

# --- 120x40 ---
start -m "$M" --db "$DB" --resume 1
wait_for 'Release notes' 10 || die "the reply is not shown"
shows '# Release' && die "the heading shows its '#'"
shows 'Some bold words and slanted and inline code here\.' || die "inline Markdown not rendered"
shows '\*\*' && die "bold shows its '**'"
T capture-pane -p -e -t chord | grep -qE $'\e\\[([0-9]+;)*1(;[0-9]+)*mbold words' \
    || die "bold is not drawn bold: $(T capture-pane -p -e -t chord | grep 'bold words' | cat -v)"
shows '│ +• first item' || die "no bullet"
shows '^│ +◦ nested item' || die "no nested bullet"
shows '1\. one' || die "no numbered item"
shows '│ a quoted line' || die "no quote bar"
shows '┌─ python ─' || die "the code block has no frame with its language"
shows '/code 1 ─┐' || die "the frame does not name the block's number"
row 'return "this line' | grep -q '→ │' || die "the long code line is not cut with a marker"
shows 'END_OF_LINE' && die "the long code line was not cut"
shows 'the docs <https://example\.org/docs> now' || die "the link's URL is not shown"
shows '────────────────────' || die "no horizontal rule"
check_table
# wide characters take two cells, a combining accent none; a tab runs to
# the next stop of 8
wl=$(row 'Wide: ') || die "no line with wide characters"
[ $(( $(col "$wl" "x.") - $(col "$wl" "Wide:") )) = 20 ] \
    || die "wide or combining characters misplaced: x. at $(col "$wl" "x.") - $(col "$wl" "Wide:")"
tl=$(row 'Tab:') || die "no line with a tab"
[ $(( $(col "$tl" "y.") - $(col "$tl" "Tab:") )) = 8 ] || die "the tab does not run to column 8"
snap "rendered 120x40"

# /raw: the text as written; /raw again renders it
T send-keys -t chord '/raw' Enter
wait_for 'replies shown as raw text' 5 || die "/raw did not answer"
T send-keys -t chord Home
wait_for '# Release notes' 5 || die "/raw does not show the raw text"
shows 'Some \*\*bold words\*\*' || die "/raw does not show the '**'"
shows '```python' || die "/raw does not show the fence"
snap "raw"
T send-keys -t chord '/raw' Enter
wait_gone '```python' 5 || die "/raw again does not render"

# the code viewer shows the long line whole; q closes it
T send-keys -t chord '/code 1' Enter
wait_for 'code 1/1 · python' 5 || die "/code 1 did not open the viewer"
shows 'cut" # END_OF_LINE' || die "the viewer does not show the long line whole"
snap "viewer"
T send-keys -t chord q
wait_gone 'code 1/1' 5 || die "q did not close the viewer"
shows '┌─ python ─' || die "the chat is not back after the viewer"
T send-keys -t chord End '/code 7' Enter
wait_for '/code: the last reply has 1 code block' 5 || die "/code 7 is not refused"
T send-keys -t chord C-d
check_exit

# --- 60x20 ---
start -m "$M" --db "$DB" --resume 1
T resize-window -t chord -x 60 -y 20
wait_for 'Done\.' 10 || die "the reply's end is not shown at 60x20"
seek 'Release notes' '┌─ python ─' || die "the heading and the code frame are not shown at 60x20"
shows '# Release' && die "the heading shows its '#' at 60x20"
snap "rendered 60x20, top"
seek 'return "this' || die "the long code line is not shown at 60x20"
row 'return "this' | grep -q '→ │' || die "the long line is not cut at 60x20"
seek 'name.*size' '中文α' || die "the table is not shown whole at 60x20"
check_table
seek 'the docs' || die "the link is not shown at 60x20"
shows 'example\.org/docs>' || die "the link's URL is not shown at 60x20"
snap "rendered 60x20, table"
# F4: the last code block; the long line's end comes into view to the right
T send-keys -t chord F4
wait_for 'code 1/1' 5 || die "F4 did not open the viewer"
shows 'END_OF_LINE' && die "the viewer at 60 columns shows a line wider than itself"
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do T send-keys -t chord Right; done
wait_for 'END_OF_LINE' 5 || die "scrolling right does not bring the line's end"
snap "viewer 60x20"
T send-keys -t chord Escape
wait_gone 'code 1/1' 5 || die "Esc did not close the viewer"
T send-keys -t chord C-d
check_exit

# NO_COLOR: attributes only (bold, underline, reverse), not one colour
REAL="$CHORD"
CHORD=env start NO_COLOR=1 "$REAL" -m "$M" --db "$DB" --resume 1
CHORD="$REAL"
wait_for 'Release notes' 10 || die "the reply is not shown under NO_COLOR"
esc=$(T capture-pane -p -e -t chord)
echo "$esc" | grep -qE $'\e\\[([0-9]+;)*(3[0-8]|4[0-8]|9[0-7]|10[0-7])(;[0-9]+)*m' \
    && die "NO_COLOR still draws colours: $(echo "$esc" | grep -E $'\e\\[([0-9]+;)*3[0-8]' | head -3 | cat -v)"
echo "$esc" | grep -qE $'\e\\[([0-9]+;)*1(;[0-9]+)*mbold words' || die "NO_COLOR: bold is not bold"
echo "$esc" | grep -qE $'\e\\[([0-9]+;)*4(;[0-9]+)*m[^\e]*Release notes' || die "NO_COLOR: the heading is not underlined"
echo "$esc" | grep -qE $'\e\\[([0-9]+;)*7(;[0-9]+)*minline code' || die "NO_COLOR: inline code is not reversed"
T send-keys -t chord C-d
check_exit
echo "ok: Markdown rendered at 120x40 and 60x20, /raw, the code viewer, NO_COLOR"
