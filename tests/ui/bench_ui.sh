#!/usr/bin/env bash
# bench_ui.sh - what the full-screen UI costs in generation speed (issue 7:
# "the UI costs at most 5% of generation speed against --batch").
#
# A benchmark, not a test: it is not registered with ctest and asserts
# nothing; it prints one line per run and the medians. The three front ends
# run the same model, prompt, seed, greedy sampling, -n and threads,
# interleaved (batch, tui, repl, batch, ...) so that the load of a shared
# machine drifts over all of them alike rather than over one.
#
#   batch: chord --batch -v            -> "N generated in X ms" on stderr
#   tui:   chord in a private tmux     -> the /stats note after the reply
#   repl:  chord --no-tui in tmux      -> the same /stats note
#
# The TUI and REPL are timed by the engine's own DONE event (/stats prints
# the last reply's gen_ms), so tmux polling does not enter the numbers.
#
# usage: bench_ui.sh CHORD MODEL [RUNS] [N] [THREADS]
set -u
CHORD=${1:?usage: bench_ui.sh CHORD MODEL [RUNS] [N] [THREADS]}
MODEL=${2:?usage: bench_ui.sh CHORD MODEL [RUNS] [N] [THREADS]}
RUNS=${3:-5}
N=${4:-256}
THREADS=${5:-2}
PROMPT="Tell me a story about a dragon"
COMMON=(-m "$MODEL" -n "$N" --temp 0 --seed 1 --threads "$THREADS" --no-history)

command -v tmux >/dev/null || { echo "bench_ui: tmux is required" >&2; exit 1; }
TMP=$(mktemp -d /tmp/bench_ui.XXXXXX)
SOCK="$TMP/tmux.sock"
T() { tmux -S "$SOCK" "$@"; }
# the script's own shell only (see tests/common/lib.sh)
trap 'if [ "$BASHPID" = "$$" ]; then tmux -S "$SOCK" kill-server 2>/dev/null; rm -rf "$TMP"; fi' EXIT

# wide window: the /stats line must not be wrapped by the chat view
W=240
screen() { T capture-pane -p -J -S -200 -t b; }
# wait_for PATTERN SECONDS [INTERVAL]: each look is a tmux client, a
# capture of the pane and a grep, several ms of CPU on the machine the
# model runs on: while a reply is timed, look only every INTERVAL seconds.
wait_for() {
    local dt=${3:-0.1}
    local n; n=$(awk -v s="$2" -v dt="$dt" 'BEGIN { print int(s / dt) }')
    while [ "$n" -gt 0 ]; do
        screen | grep -qE -- "$1" && return 0
        sleep "$dt"; n=$((n - 1))
    done
    return 1
}

# prints "tok/s gen_tokens gen_ms"
run_batch() {
    local TIMEFORMAT='%U %S' cpu
    cpu=$( { time "$CHORD" --batch "${COMMON[@]}" -p "$PROMPT" -v >/dev/null 2>"$TMP/err"; } 2>&1 ) || {
        cat "$TMP/err" >&2; return 1; }
    sed -nE 's/.* ([0-9]+) generated in ([0-9.]+) ms.*/\1 \2/p' "$TMP/err" | tail -1 |
        awk -v cpu="$cpu" '{ split(cpu, c, " ");
            printf "%.2f %d %.1f cpu_ms %d (whole run)\n", $1 * 1000 / $2, $1, $2, (c[1] + c[2]) * 1000 }'
}
# child_cpu_ms: user + system time of this shell's finished children, in ms
child_cpu_ms() {
    times | tail -1 | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/);
                             printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }'
}

# run_ui READY_PATTERN ARGS...: starts chord in tmux, sends the prompt,
# waits for the reply to end, asks /stats and reads the gen numbers.
run_ui() {
    local ready=$1; shift
    T kill-server 2>/dev/null
    printf '%q ' "$CHORD" "$@" "${COMMON[@]}" > "$TMP/cmd"
    echo '; sleep 600' >> "$TMP/cmd"
    # a server that is leaving can still take new-session and then drop
    # it ("server exited unexpectedly"): wait for it to go, retry (as
    # tui_lib.sh's tnew)
    local i
    for i in $(seq 50); do T ls >/dev/null 2>&1 || break; sleep 0.1; done
    for i in 1 2 3 4 5; do
        T new-session -d -s b -x "$W" -y 50 -e LANG=C.UTF-8 "bash -c '$(cat "$TMP/cmd")'" && break
        [ "$i" = 5 ] && return 1
        sleep 0.5
    done
    wait_for "$ready" 60 || { echo "no ready screen" >&2; screen >&2; return 1; }
    local pid ui0 all0 srv srv0
    srv=$(T display-message -p '#{pid}'); srv0=$(cpu_ms "/proc/$srv/stat")
    pid=$(pgrep -P "$(T display-message -p -t b '#{pane_pid}')" -x "$(basename "$CHORD")")
    ui0=$(run_ns "$pid"); all0=$(cpu_ms "/proc/$pid/stat")
    T send-keys -t b -l "$PROMPT"; T send-keys -t b Enter
    sleep 1
    wait_for "$ready" 600 2 || { echo "reply did not end" >&2; return 1; }
    T send-keys -t b -l "/stats"; T send-keys -t b Enter
    wait_for 'gen [0-9]+ tok in' 30 || { echo "no /stats" >&2; screen >&2; return 1; }
    local line ui all
    line=$(screen | grep -oE 'gen [0-9]+ tok in [0-9.]+ ms' | tail -1)
    # CPU time of the UI (main) thread and of the whole process during the
    # reply (and the /stats): the UI's cost without the noise of a shared
    # machine's wall clock.
    ui=$(( ($(run_ns "$pid") - ui0) / 1000000 ))
    all=$(( $(cpu_ms "/proc/$pid/stat") - all0 ))
    srv=$(( $(cpu_ms "/proc/$srv/stat") - srv0 ))
    T send-keys -t b C-d
    T kill-server 2>/dev/null
    echo "$line" | awk -v ui="$ui" -v all="$all" -v srv="$srv" \
        '{ printf "%.2f %d %.1f cpu_ms %d ui_thread_ms %d (%.1f%% of the gen time) tmux_cpu_ms %d\n",
                 $2 * 1000 / $5, $2, $5, all, ui, ui * 100 / $5, srv }'
}
# run_ns PID: time the main (UI) thread spent on a CPU, in ns (schedstat
# counts in ns where /proc/PID/stat counts 10 ms ticks)
run_ns() { cut -d' ' -f1 "/proc/$1/task/$1/schedstat"; }
# cpu_ms STATFILE: utime + stime (fields 14, 15 after the "(comm)") in ms
cpu_ms() {
    local hz; hz=$(getconf CLK_TCK)
    sed -E 's/.*\) //' "$1" | awk -v hz="$hz" '{ print ($12 + $13) * 1000 / hz }'
}
run_tui()  { run_ui 'Ctrl-D quit'; }
run_repl() { run_ui '^> ?$' --no-tui; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2];
                                               else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }

echo "# model $MODEL, -n $N, --threads $THREADS, $RUNS runs each, interleaved"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
    for m in batch tui repl; do
        r=$("run_$m") || { echo "bench_ui: $m run $i failed" >&2; exit 1; }
        echo "$m $i $r load $(cut -d' ' -f1 /proc/loadavg)"
        echo "${r%% *}" >> "$TMP/$m"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
B=$(median < "$TMP/batch")
for m in batch tui repl; do
    med=$(median < "$TMP/$m")
    printf '%-5s median %7s tok/s  spread %-14s  vs batch %+.1f%%\n' "$m" "$med" \
        "$(spread < "$TMP/$m")" "$(awk -v a="$med" -v b="$B" 'BEGIN { print (a - b) * 100 / b }')"
done
