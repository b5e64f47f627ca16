#!/usr/bin/env python3
"""hostile_gguf.py CHORD OUT_DIR: crafts GGUF files whose counts, lengths
and sizes lie (huge strings, arrays, key and tensor counts, dimensions,
offsets), runs `chord inspect` and `chord --batch` on each, and checks that
chord refuses each one with exit 1 and a single line naming the file, while
its peak memory (the child's maxrss) stays below a bound far under what the
lies claim: the file size plus a fixed allowance for the program itself (no
budget or KV cache is ever reached on a file that does not load).
"""
import os, resource, struct, subprocess, sys

chord, out = sys.argv[1], sys.argv[2]
LIMIT_KB = 96 * 1024          # chord itself: code, BLAS, allocator arenas

def s(x, n=None):
    b = x.encode()
    return struct.pack("<Q", len(b) if n is None else n) + b

U32, STR, ARR, U64 = 4, 8, 9, 10
def kv(key, t, payload):
    return s(key) + struct.pack("<I", t) + payload

def head(n_tensors, n_kv):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv)

arch = kv("general.architecture", STR, s("llama"))
def tinfo(name, dims, ttype, off):
    return s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ttype, off)

def pad(b, a=32):
    return b + b"\0" * (-len(b) % a)

files = {
    "huge_key_len": head(0, 1) + s("k", 1 << 62),
    "huge_string_value": head(0, 2) + arch + s("general.name") + struct.pack("<I", STR) + struct.pack("<Q", (1 << 40)) + b"abc",
    "huge_array_count": head(0, 2) + arch + kv("tokenizer.ggml.tokens", ARR, struct.pack("<IQ", STR, 1 << 60) + s("a")),
    "huge_array_u32": head(0, 2) + arch + kv("tokenizer.ggml.token_type", ARR, struct.pack("<IQ", U32, (1 << 61) - 1)),
    "huge_array_strings_lie": head(0, 2) + arch + kv("tokenizer.ggml.tokens", ARR, struct.pack("<IQ", STR, 100000000) + s("a") * 3),
    "huge_n_kv": head(0, 1 << 62) + arch,
    "huge_n_tensors": head(1 << 62, 1) + arch,
    "many_tensors_lie": head(50000000, 1) + arch + tinfo("t", [32], 0, 0),
    "huge_dims": pad(head(1, 1) + arch + tinfo("token_embd.weight", [1 << 31, 1 << 31, 1 << 20], 0, 0)),
    "dims_overflow": pad(head(1, 1) + arch + tinfo("token_embd.weight", [1 << 63, 4], 0, 0)),
    "tensor_past_eof": pad(head(1, 1) + arch + tinfo("token_embd.weight", [4096, 4096], 0, 0)) + b"\0" * 64,
    "huge_offset": pad(head(1, 1) + arch + tinfo("token_embd.weight", [32], 0, (1 << 63) - 32)) + b"\0" * 128,
    "bad_alignment": pad(head(0, 2) + arch + kv("general.alignment", U32, struct.pack("<I", 0))),
    "huge_n_dims": head(1, 1) + arch + s("t") + struct.pack("<I", 0xFFFFFFFF),
    "vocab_claims_huge": pad(head(0, 4) + arch + kv("tokenizer.ggml.model", STR, s("llama"))
                             + kv("tokenizer.ggml.tokens", ARR, struct.pack("<IQ", STR, 3) + s("a") + s("b") + s("c", 1 << 50))
                             + kv("llama.context_length", U32, struct.pack("<I", 0xFFFFFFFF))),
    "ctx_and_layers_huge": pad(head(0, 4) + arch + kv("llama.block_count", U32, struct.pack("<I", 0xFFFFFFFF))
                               + kv("llama.embedding_length", U32, struct.pack("<I", 0xFFFFFFFF))
                               + kv("llama.context_length", U32, struct.pack("<I", 0xFFFFFFFF))),
}

METADATA_ONLY = {"ctx_and_layers_huge"}
failed = 0
for name, data in files.items():
    path = os.path.join(out, name + ".gguf")
    with open(path, "wb") as f:
        f.write(data)
    for args in (["inspect", path], ["-m", path, "--batch", "--raw", "-p", "hi", "-n", "2", "--no-history"]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r = subprocess.run([chord] + args, capture_output=True, timeout=120)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # ru_maxrss of children is the largest so far: it only tells when it grew
        grew = peak > before
        err = r.stderr.decode(errors="replace")
        what = "%s (%s)" % (name, args[0] if args[0] == "inspect" else "--batch")
        problems = []
        # a file whose only lies are hyperparameters is valid GGUF: inspect
        # shows it, loading refuses it
        want = 0 if (name in METADATA_ONLY and args[0] == "inspect") else 1
        if r.returncode != want:
            problems.append("exit %d, want %d" % (r.returncode, want))
        lines = [l for l in err.splitlines() if l.strip()]
        if want == 1 and (len(lines) != 1 or path not in lines[0]):
            problems.append("stderr should be one line naming the file: %r" % err[:400])
        if grew and peak > LIMIT_KB + len(data) // 1024:
            problems.append("peak RSS %d KiB > %d KiB" % (peak, LIMIT_KB + len(data) // 1024))
        if "Sanitizer" in err or "runtime error" in err:
            problems.append("sanitizer report")
        if problems:
            failed += 1
            print("FAIL %s: %s" % (what, "; ".join(problems)))
        else:
            print("ok   %s: %s" % (what, lines[0][:150] if lines else "(shown)"))
print("peak RSS of all runs: %d KiB (bound %d KiB)" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, LIMIT_KB))
sys.exit(1 if failed else 0)
