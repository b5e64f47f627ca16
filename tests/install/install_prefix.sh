# install_prefix: `cmake --install BUILD --prefix P` installs P/bin/chord,
# which runs (--version, --help naming the subcommands), and
# P/share/man/man1/chord.1, a manual page that renders with its sections.
. "$CHORD_TESTS/common/lib.sh"
build="${CHORD_BUILD_DIR:-$(dirname "$(dirname "$CHORD")")}"
[ -f "$build/CMakeCache.txt" ] || fail "no build tree at $build"
prefix="$TMP/prefix"
cmake --install "$build" --prefix "$prefix" >"$TMP/install.log" 2>&1 \
    || fail "cmake --install: $(cat "$TMP/install.log")"

bin="$prefix/bin/chord"
[ -x "$bin" ] || fail "no executable $bin: $(cat "$TMP/install.log")"
"$bin" --version >"$TMP/version" 2>&1 || fail "installed chord --version exited $?"
grep -Eq '^chord [0-9]+\.[0-9]+' "$TMP/version" || fail "version line: $(cat "$TMP/version")"
"$bin" --help >"$TMP/help" 2>&1 || fail "installed chord --help exited $?"
grep -q "split" "$TMP/help" || fail "--help of the installed chord lacks subcommands"

man1="$prefix/share/man/man1/chord.1"
[ -f "$man1" ] || fail "no manual page $man1: $(cat "$TMP/install.log")"
head -5 "$man1" | grep -q '^\.TH CHORD 1 ' || fail "chord.1 has no .TH CHORD 1 header"
# render it where a formatter exists; the sections a manual page needs
if command -v groff >/dev/null 2>&1; then
    groff -man -Tascii -ww "$man1" >"$TMP/page" 2>"$TMP/warn" || fail "groff failed: $(cat "$TMP/warn")"
    [ -s "$TMP/warn" ] && fail "groff warnings: $(cat "$TMP/warn")"
elif command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man -l "$man1" >"$TMP/page" 2>"$TMP/warn" || fail "man -l failed: $(cat "$TMP/warn")"
else
    echo "no groff or man here: checked the .TH header only"
    exit 0
fi
page=$(sed 's/.\x08//g' "$TMP/page")
for s in NAME SYNOPSIS DESCRIPTION OPTIONS SUBCOMMANDS ENVIRONMENT FILES "EXIT STATUS"; do
    printf '%s\n' "$page" | grep -q "^$s" || fail "the rendered page has no $s section"
done
for w in --mem-budget inspect split pull models config HF_HOME HF_HUB_CACHE HF_ENDPOINT HF_TOKEN \
         LLAMA_CACHE OLLAMA_MODELS XDG_CONFIG_HOME XDG_CACHE_HOME CHORD_SIMD NO_COLOR history.db; do
    printf '%s\n' "$page" | grep -q -- "$w" || fail "the rendered page does not mention $w"
done
echo "install_prefix: ok"
