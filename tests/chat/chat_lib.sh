# chat_lib.sh - helpers for the batch chat tests (source after common/lib.sh).

A_MODEL="$SHARED/models/a-spm-q8_0.gguf"    # zephyr template, </s> = EOS (id 2)
B_MODEL="$SHARED/models/b-spm-q4_k_m.gguf"  # zephyr too, other weights
C_MODEL="$SHARED/models/c-qwen2-q8_0.gguf"  # ChatML template

# jsum FILE: checks every line of a --json run is a JSON object with the
# fields of its event, then prints one line per turn:
#   turn n_prompt n_cached n_gen stop n_token_events reply_as_json
# (error events print "error turn message").
jsum() {
    python3 - "$1" <<'PY'
import json, sys
toks, text = 0, ""
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        j = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
    ev = j.get("event")
    if ev == "token":
        assert isinstance(j["id"], int) and isinstance(j["text"], str), line
        toks += 1
        text += j["text"]
    elif ev == "done":
        for k in ("turn", "n_prompt", "n_gen", "prompt_ms", "gen_ms", "stop"):
            assert k in j, "done event without %s: %s" % (k, line)
        assert j["stop"] in ("eog", "limit", "ctx_full", "cancelled"), line
        assert j["n_gen"] == toks, "n_gen %d but %d token events" % (j["n_gen"], toks)
        print(j["turn"], j["n_prompt"], j["n_cached"], j["n_gen"], j["stop"], toks, json.dumps(text))
        toks, text = 0, ""
    elif ev == "error":
        assert isinstance(j["message"], str) and j["message"], line
        print("error", j["turn"], json.dumps(j["message"]))
        toks, text = 0, ""
    else:
        sys.exit("line %d: unknown event: %r" % (n, line))
PY
}

# field LINE N: the Nth (1-based) space-separated field of a jsum line.
field() { echo "$1" | cut -d' ' -f"$2"; }
# reply LINE: the reply text (JSON string) of a jsum line.
reply() { echo "$1" | cut -d' ' -f7-; }
