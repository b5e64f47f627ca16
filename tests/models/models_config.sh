#!/bin/bash
# The config file: key = value with the long option names, '#' comments and
# blank lines; command-line flags win; chord config shows each setting and
# where it comes from; the config's model is used without -m; an unknown
# key, a bad value or a line without '=' is one line naming the file and
# line, exit 2, for every command. CHORD_CONFIG names the file, else
# $XDG_CONFIG_HOME/chord/config.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/models/models_lib.sh"
cd "$TMP" || fail "cd"
make_stores
C="$CHORD_CONFIG"
cat > "$C" <<CONF
# defaults for every run

temp = 0.25
threads = 2
  model = o/n:Q4_K_M
system = "  be brief # no comment here  "
no-history = true
model-dirs = $TMP/dirs
CONF

show() { "$CHORD" config "$@" > cfg 2> err || fail "chord config $*: exit $?: $(cat err)"; }
has() { grep -qE -- "$1" cfg || fail "chord config $2: no line '$1' in: $(cat cfg)"; }
show
has "^# config file: $C\$"
has "^temp += 0\.25 +# $C:3\$"
has "^threads += 2 +# $C:4\$"
has "^model += o/n:Q4_K_M +# $C:5\$"
has "^system += +be brief # no comment here +# $C:6\$"
has "^no-history += true +# $C:7\$"
has "^top-k += 40 +# default\$"
has "^ctx += 0 .*# default\$"
# the command line wins, and says so
show --temp 0.5 -t 1
has "^temp += 0\.5 +# command line\$" "--temp 0.5"
has "^threads += 1 +# command line\$" "-t 1"
has "^top-p += 0\.95 +# default\$" "--temp 0.5"
# the config's model runs without -m (offline, the hub cache's file)
want=$("$CHORD" --batch -m src/a.gguf --temp 0 -n 5 -p hi --no-history) || fail "batch on the file"
got=$("$CHORD" --batch --temp 0 -n 5 -p hi 2> err) || fail "batch with the config's model: $(cat err)"
[ "$got" = "$want" ] || fail "config model gives '$got', the file '$want'"
# ... and -m overrides it
"$CHORD" --batch -m ollama:tiny --temp 0 -n 5 -p hi > o1 && "$CHORD" --batch -m src/c.gguf --temp 0 -n 5 -p hi --no-history > o2 &&
    cmp -s o1 o2 || fail "-m does not override the config's model"
# history is off from the config: no database was written
[ -e "$XDG_DATA_HOME/chord/history.db" ] && fail "no-history = true in the config did not hold"

# db in the config: the chats go there, and chord history reads them there
printf 'model-dirs = %s\ndb = %s\n' "$TMP/dirs" "$TMP/my.db" > "$C"
"$CHORD" --batch -m mine -p "hello db" -n 3 > /dev/null || fail "batch with the config's db"
[ -s "$TMP/my.db" ] || fail "the config's db was not written"
"$CHORD" history list > out || fail "history list with the config's db"
grep -q 'hello db' out || fail "history list does not read the config's db: $(cat out)"

# errors: one line, file:line, exit 2, whatever the command
bad() { # bad LINE_TEXT PATTERN
    printf '# ok\ntop-k = 10\n%s\n' "$1" > "$C"
    for cmd in "config" "models" "--batch -m src/a.gguf -p x" "tokenize -m src/a.gguf x" "history list"; do
        "$CHORD" $cmd > out 2> err
        local rc=$?
        [ "$rc" = 2 ] || fail "'$1' / chord $cmd: exit $rc: $(cat err)"
        [ "$(wc -l < err)" = 1 ] || fail "'$1' / chord $cmd: not one line: $(cat err)"
        grep -qE -- "^chord: $C:3: $2" err || fail "'$1' / chord $cmd: $(cat err)"
    done
}
bad "tmep = 0.5" "unknown key 'tmep'\$"
bad "temp = hot" "bad value for 'temp': 'hot' \(a number from 0 to 100\)\$"
bad "threads = 0" "bad value for 'threads': '0' "
bad "mem-budget = lots" "bad value for 'mem-budget': 'lots' "
bad "no-tui = maybe" "bad value for 'no-tui': 'maybe' \(true or false\)\$"
bad "prompt = hi" "unknown key 'prompt' \(it is a command-line option only\)\$"
bad "temp 3" "expected 'key = value'"
bad "top-k = 2" "'top-k' is already set on line 2\$"

# without CHORD_CONFIG: $XDG_CONFIG_HOME/chord/config, and none is fine
unset CHORD_CONFIG
mkdir -p "$XDG_CONFIG_HOME/chord"
"$CHORD" config > cfg || fail "no config file: exit $?"
has "^# config file: $XDG_CONFIG_HOME/chord/config \(not there" "without a file"
has "^temp += 0\.8 +# default\$" "without a file"
echo "seed = 42" > "$XDG_CONFIG_HOME/chord/config"
"$CHORD" config > cfg || fail "XDG config: exit $?"
has "^seed += 42 +# $XDG_CONFIG_HOME/chord/config:1\$" "XDG"
# a CHORD_CONFIG that is not there is an error (it was asked for by name)
CHORD_CONFIG="$TMP/nope.conf" "$CHORD" config > out 2> err
[ $? = 2 ] && grep -q "^chord: $TMP/nope.conf: cannot read the config file" err || fail "missing CHORD_CONFIG: $(cat err)"
# no model anywhere: --batch is a usage error, one line
"$CHORD" --batch -p hi > out 2> err
[ $? = 2 ] && [ "$(wc -l < err)" = 1 ] && grep -q "^chord: no model: give -m MODEL" err || fail "no model: $(cat err)"
# ... and so is the REPL, which has no picker (no terminal here)
"$CHORD" --no-tui < /dev/null > out 2> err
[ $? = 2 ] && [ "$(wc -l < err)" = 1 ] && grep -q "^chord: no model: give -m MODEL" err || fail "no model, REPL: $(cat err)"
echo PASS
