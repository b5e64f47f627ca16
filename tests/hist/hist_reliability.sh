#!/bin/bash
# History reliability from the command line: reading never creates a file
# at a mistyped path; another program's SQLite file is refused (one line,
# exit 1) and left byte for byte as it was by `chord history`, --batch and
# the REPL; --require-history makes an unusable history exit 3 (and the
# default only warns); a random seed is recorded as the number it was, and
# --seed with that number gives the same reply again; --seed -1 means
# random; global options before the subcommand (`chord --db F history
# list`), and a mode option there is a usage error. Self-contained: a
# synthetic Qwen3 model.
. "$CHORD_TESTS/common/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the shell) is needed"
command -v python3 >/dev/null || fail "python3 is needed"
M="$TMP/q3.gguf"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"
cd "$TMP" || fail "cd"

# --- a mistyped path is never created ---------------------------------------
for args in "history list --db $TMP/typo.db" "--db $TMP/typo.db history list" \
            "history show 1 --db $TMP/typo.db" "history rm 1 --yes --db $TMP/typo.db" \
            "history stats --db $TMP/typo.db"; do
    # shellcheck disable=SC2086
    "$CHORD" $args > out 2> err && fail "chord $args succeeded"
    rc=$?
    [ "$rc" = 1 ] || fail "chord $args: exit $rc, want 1"
    [ "$(wc -l < err)" = 1 ] || fail "chord $args: not one line: $(cat err)"
    grep -q "typo.db: no such file" err || fail "chord $args: $(cat err)"
    [ -e "$TMP/typo.db" ] && fail "chord $args created the file"
done
ls "$TMP"/typo.db* 2>/dev/null && fail "side files created for the typo"

# --- another program's database: refused and untouched ---------------------
sqlite3 "$TMP/app.db" "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT);
    INSERT INTO users(name) VALUES ('ann'); INSERT INTO messages(body) VALUES ('hi');" \
    || fail "sqlite3"
before=$(sha256sum < "$TMP/app.db")
refused() {   # refused WHAT CMD...: exit 1, one line naming the file and why
    local what=$1
    shift
    "$@" > out 2> err < /dev/null
    rc=$?
    [ "$rc" = 1 ] || fail "$what: exit $rc, want 1 ($(cat err))"
    [ "$(wc -l < err)" = 1 ] || fail "$what: not one line: $(cat err)"
    grep -q "app.db: a SQLite database of another program (tables messages, users)" err \
        || fail "$what: $(cat err)"
    [ "$(sha256sum < "$TMP/app.db")" = "$before" ] || fail "$what changed the file"
    ls "$TMP"/app.db-* 2>/dev/null && fail "$what left side files"
    return 0
}
refused "history list" "$CHORD" history list --db "$TMP/app.db"
refused "history stats" "$CHORD" history stats --db "$TMP/app.db"
refused "history rm" "$CHORD" history rm 1 --yes --db "$TMP/app.db"
refused "--batch" "$CHORD" --batch -m "$M" -n 4 -p hi --db "$TMP/app.db"
refused "--no-tui" "$CHORD" -m "$M" -n 4 --no-tui --db "$TMP/app.db"
sqlite3 "$TMP/app.db" "SELECT name FROM users" | grep -qx ann || fail "the other program's data"

# --- --require-history ---------------------------------------------------------
head -c 5000 "$M" > "$TMP/garbage.db"
echo hi | "$CHORD" --batch -m "$M" -n 4 --db "$TMP/garbage.db" > out 2> err
[ $? = 0 ] || fail "without --require-history a broken history only warns: $(cat err)"
grep -q "warning: history .*garbage.db" err || fail "no warning: $(cat err)"
[ -s out ] || fail "no reply without --require-history"
echo hi | "$CHORD" --batch -m "$M" -n 4 --db "$TMP/garbage.db" --require-history > out 2> err
rc=$?
[ "$rc" = 3 ] || fail "--require-history with a broken history: exit $rc, want 3 ($(cat err))"
grep -q "garbage.db.*--require-history" err || fail "the error does not say why: $(cat err)"
[ -s out ] && fail "it chatted unrecorded: $(cat out)"
"$CHORD" --help | grep -q -- '--require-history .*exit 3' || fail "--help does not give the exit code"
# a database locked past the busy timeout while chatting: the turn still
# answers, the run exits 3
echo first | "$CHORD" --batch -m "$M" -n 4 --temp 0 --db "$TMP/h.db" > /dev/null || fail "first run"
python3 - "$TMP/h.db" "$TMP/lock" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + ".held", "w").close()
while not os.path.exists(sys.argv[2] + ".release"):
    time.sleep(0.05)
c.execute("COMMIT")
EOF
for _ in $(seq 100); do [ -e "$TMP/lock.held" ] && break; sleep 0.1; done
[ -e "$TMP/lock.held" ] || fail "the lock was not taken"
echo second | "$CHORD" --batch -m "$M" -n 4 --temp 0 --db "$TMP/h.db" --require-history > out 2> err
rc=$?
touch "$TMP/lock.release"
wait
[ "$rc" = 3 ] || fail "--require-history with the history locked: exit $rc, want 3 ($(cat err))"
grep -q "locked by another process" err || fail "no lock message: $(cat err)"
[ -s out ] || fail "the turn was not answered"

# --- the seed of a random reply is recorded, and reproduces it ----------------
echo "tell me something" | "$CHORD" --batch -m "$M" -n 16 --temp 1.5 --db "$TMP/s.db" > r1 \
    || fail "random-seeded run"
seed=$(sqlite3 "$TMP/s.db" "SELECT json_extract(params_json, '$.seed') FROM conversations")
case "$seed" in ''|*[!0-9]*) fail "no seed recorded: '$seed'" ;; esac
[ "$seed" = 18446744073709551615 ] && fail "the seed recorded is the 'random' marker"
echo "tell me something" | "$CHORD" --batch -m "$M" -n 16 --temp 1.5 --seed "$seed" --no-history > r2 \
    || fail "--seed $seed"
cmp -s r1 r2 || fail "--seed $seed does not reproduce the reply: '$(cat r1)' vs '$(cat r2)'"
echo "tell me something" | "$CHORD" --batch -m "$M" -n 16 --temp 1.5 --seed -1 --db "$TMP/s.db" -v \
    > r3 2> err || fail "--seed -1: $(cat err)"
s2=$(sed -n 's/^chord: seed \([0-9]*\)$/\1/p' err)
[ -n "$s2" ] || fail "-v does not show the seed drawn: $(cat err)"
[ "$(sqlite3 "$TMP/s.db" "SELECT json_extract(params_json, '$.seed') FROM conversations WHERE id = 2")" = "$s2" ] \
    || fail "the second seed is not the one shown"
[ "$s2" != "$seed" ] || fail "two random seeds are the same"
"$CHORD" --batch -m "$M" --seed -2 -p hi > /dev/null 2> err && fail "--seed -2 accepted"
grep -q "random" err || fail "--seed -2: $(cat err)"

# --- global options before the subcommand -------------------------------------
"$CHORD" --db "$TMP/s.db" history list > out 2> err || fail "chord --db F history list: $(cat err)"
grep -q "tell me something" out || fail "chord --db F history list: $(cat out)"
"$CHORD" --db "$TMP/s.db" history show 1 --json | grep -q "\"seed\":$seed" || fail "show through --db first"
"$CHORD" --temp 0.5 history list > out 2> err
rc=$?
[ "$rc" = 2 ] || fail "a mode option before history: exit $rc, want 2"
[ "$(wc -l < err)" = 1 ] && grep -q -- "--temp is an option of the chat modes, not of chord history" err \
    || fail "a mode option before history: $(cat err)"
"$CHORD" --threads 1 bench -m "$M" -p 8 -n 4 -r 1 > out 2> err || fail "chord --threads 1 bench: $(cat err)"
echo "ok: typo not created, foreign file untouched, --require-history exit 3, seed $seed reproduces"
