#!/usr/bin/env python3
"""make_seeds.py OUT_DIR SHARED_DIR: writes seed inputs for the fuzz targets
that are derived at run time (../shared files are never committed here).

gguf/: small well-formed GGUF files (every metadata type, arrays, nested
arrays, a few tensors of different types), written from the format's
definition so the fuzzer starts from inputs the reader accepts.
tok/, hist/: the tokenizer test strings of ../shared/ref/tokenizer/*.inp,
one per file (tok seeds get a selector byte first).
tmpl/, json/: copies of ../shared/ref/chat/*.jinja and *.json.
"""
import os, struct, sys, glob, shutil

out, shared = sys.argv[1], sys.argv[2]
for d in ("gguf", "tok", "hist", "tmpl", "json"):
    os.makedirs(os.path.join(out, d), exist_ok=True)

def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
def kv(key, t, payload):
    return s(key) + struct.pack("<I", t) + payload

def arr(t, items):
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f",
           BOOL: "B", U64: "Q", I64: "q", F64: "d"}
    body = struct.pack("<IQ", t, len(items))
    for v in items:
        body += s(v) if t == STR else struct.pack("<" + fmt[t], v)
    return body

def gguf(kvs, tensors, align=32):
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    info, data = b"", b""
    for name, dims, ttype, nbytes in tensors:
        while len(data) % align:
            data += b"\0"
        info += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        info += struct.pack("<IQ", ttype, len(data))
        data += bytes((i * 7) & 0xFF for i in range(nbytes))
    blob = head + info
    while len(blob) % align:
        blob += b"\0"
    return blob + data

kvs = [
    kv("general.architecture", STR, s("llama")),
    kv("general.name", STR, s("fuzz seed")),
    kv("general.alignment", U32, struct.pack("<I", 32)),
    kv("a.u8", U8, b"\x07"), kv("a.i8", I8, b"\xf9"),
    kv("a.u16", U16, struct.pack("<H", 65535)), kv("a.i16", I16, struct.pack("<h", -2)),
    kv("a.i32", I32, struct.pack("<i", -5)), kv("a.f32", F32, struct.pack("<f", 1.5)),
    kv("a.bool", BOOL, b"\x01"), kv("a.u64", U64, struct.pack("<Q", 1 << 40)),
    kv("a.i64", I64, struct.pack("<q", -(1 << 40))), kv("a.f64", F64, struct.pack("<d", 2.25)),
    kv("a.arr_i32", ARR, arr(I32, [1, -2, 3])),
    kv("a.arr_str", ARR, arr(STR, ["x", "", "yz"])),
]
nested = kv("a.nested", ARR, struct.pack("<IQ", ARR, 2) + arr(U8, [1, 2]) + arr(F32, [0.5]))
tensors = [("token_embd.weight", [32, 4], 0, 32 * 4 * 4),
           ("blk.0.attn_q.weight", [32, 2], 1, 32 * 2 * 2),
           ("blk.0.ffn_up.weight", [32, 2], 8, 2 * 34)]   # Q8_0: 34 bytes a block
open(os.path.join(out, "gguf", "seed_full.gguf"), "wb").write(gguf(kvs, tensors))
open(os.path.join(out, "gguf", "seed_nested.gguf"), "wb").write(gguf(kvs[:2] + [nested], []))
open(os.path.join(out, "gguf", "seed_small.gguf"), "wb").write(gguf(kvs[:2], tensors[:1]))
vocab = ["<unk>", "<s>", "</s>", "\u2581a", "b", "<0x41>"]
tok_kvs = kvs[:2] + [kv("tokenizer.ggml.model", STR, s("llama")),
                     kv("tokenizer.ggml.tokens", ARR, arr(STR, vocab)),
                     kv("tokenizer.ggml.scores", ARR, arr(F32, [0.0, 0, 0, -1, -2, 0])),
                     kv("tokenizer.ggml.token_type", ARR, arr(I32, [2, 3, 3, 1, 1, 6])),
                     kv("tokenizer.ggml.bos_token_id", U32, struct.pack("<I", 1))]
open(os.path.join(out, "gguf", "seed_vocab.gguf"), "wb").write(gguf(tok_kvs, []))

n = 0
for inp in sorted(glob.glob(os.path.join(shared, "ref/tokenizer/*.inp"))):
    for text in open(inp, "rb").read().split(b"\n__ggml_vocab_test__\n"):
        if len(text) > 2000:
            continue
        n += 1
        open(os.path.join(out, "tok", "t%04d" % n), "wb").write(bytes([n % 256]) + text)
        open(os.path.join(out, "hist", "h%04d" % n), "wb").write(
            b"system\xfe" + text + b"\xfe" + text[: len(text) // 2] + b"\xfe" + text[len(text) // 2:] + b"\xfe" + text[:8])
for f in glob.glob(os.path.join(shared, "ref/chat/*.jinja")):
    shutil.copy(f, os.path.join(out, "tmpl"))
for f in glob.glob(os.path.join(shared, "ref/chat/*.json")):
    shutil.copy(f, os.path.join(out, "json"))
