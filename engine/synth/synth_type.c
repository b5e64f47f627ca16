/*
 * synth_type.c - which tensor type each tensor gets for a file type name.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "quant/quant.h"
#include "synth/synth.h"

chord_status synth_parse_ftype(const char *s, bool read_only_ok, synth_ftype *out,
                               chord_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= sizeof out->name)
        goto bad;
    for (size_t i = 0; i < n; i++)
        out->name[i] = (char)toupper((unsigned char)s[i]);
    if (!strcmp(out->name, "MXFP4") || !strcmp(out->name, "MXFP4_MOE")) {
        /* llama.cpp's MXFP4_MOE (gpt-oss's release): the experts in
         * MXFP4, every other matrix in Q8_0 */
        snprintf(out->name, sizeof out->name, "MXFP4_MOE");
        out->base = QT_MXFP4;
        out->mix = 'X';
        return CHORD_OK;
    }
    char base[16];
    snprintf(base, sizeof base, "%s", out->name);
    /* a mix suffix only exists on k-quants: Q4_K_M, Q5_K_S... */
    if (n > 4 && base[n - 2] == '_' && (base[n - 1] == 'M' || base[n - 1] == 'S') &&
        base[n - 3] == 'K') {
        out->mix = base[n - 1];
        base[n - 2] = 0;
    }
    out->base = quant_type_by_name(base);
    if (out->base < 0)
        goto bad;
    const quant_traits *qt = quant_traits_of(out->base);
    /* Q8_K is an activation format, not a weight type */
    if (!qt || !qt->supported || quant_act_type(out->base) < 0 || out->base == QT_Q8_K)
        goto bad;
    /* the i-quants chord reads have no quantizer: decoding them is all
     * the engine does */
    const quant_kernels *k = quant_kernels_for(out->base, "scalar");
    out->read_only = !k || !k->quantize;
    if (out->read_only && (!read_only_ok || out->mix))
        return err_set(err, CHORD_E_UNSUPPORTED, "type %s is read-only: chord can run models in it but not quantize to it",
                       qt->name);
    if (out->mix && out->base != QT_Q3_K && out->base != QT_Q4_K && out->base != QT_Q5_K)
        goto bad;
    return CHORD_OK;
bad:
    return err_set(err, CHORD_E_INVALID,
                   "unknown type '%s' (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4_MOE; synth --fast also IQ3_S, IQ3_XXS, IQ2_S, IQ2_XS, IQ2_XXS, IQ1_M, IQ1_S)",
                   s ? s : "");
}

int synth_ftype_id(const synth_ftype *ft)
{
    static const struct { const char *name; int id; } ids[] = {
        {"F32", 0}, {"F16", 1}, {"Q4_0", 2}, {"Q4_1", 3}, {"Q8_0", 7}, {"Q5_0", 8},
        {"Q5_1", 9}, {"Q2_K", 10}, {"Q3_K_M", 12}, {"Q4_K_S", 14}, {"Q4_K_M", 15},
        {"Q5_K_S", 16}, {"Q5_K_M", 17}, {"Q6_K", 18}, {"IQ2_XXS", 19}, {"IQ2_XS", 20},
        {"IQ3_XXS", 23}, {"IQ1_S", 24}, {"IQ4_NL", 25}, {"IQ3_S", 26}, {"IQ4_XS", 30},
        {"IQ1_M", 31}, {"BF16", 32}, {"TQ1_0", 36}, {"TQ2_0", 37}, {"MXFP4_MOE", 38},
        /* not IQ2_S: llama.cpp's IQ2_S file type is mostly IQ2_XS */
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (!strcmp(ft->name, ids[i].name))
            return ids[i].id;
    return -1;
}

/* llama.cpp's choice of layers that get more bits in the _M mixes: the
 * first and last eighth, and every third layer in between. */
static bool more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* A type whose block divides ne0, close in size to t. */
static int fit_block(int t, int64_t ne0)
{
    for (int guard = 0; guard < 4; guard++) {
        const quant_traits *qt = quant_traits_of(t);
        if (qt && ne0 % qt->block == 0)
            return t;
        switch (t) {
        case QT_Q2_K: case QT_Q3_K: t = QT_Q4_0; break;
        case QT_Q4_K: t = QT_Q5_0; break;
        case QT_Q5_K: t = QT_Q5_1; break;
        case QT_Q6_K: t = QT_Q8_0; break;
        case QT_IQ4_XS: case QT_IQ2_XXS: case QT_IQ2_XS: case QT_IQ2_S: case QT_IQ3_XXS:
        case QT_IQ3_S: case QT_IQ1_S: case QT_IQ1_M: t = QT_IQ4_NL; break;
        case QT_TQ1_0: case QT_TQ2_0: t = QT_Q4_0; break;
        default: t = QT_F16; break;
        }
    }
    return QT_F16;
}

int synth_tensor_type(const synth_ftype *ft, const char *name, int n_dims, int64_t ne0,
                      int layer, int n_layer)
{
    if (n_dims < 2)
        return QT_F32;  /* norms and biases: tiny, and precision matters */
    int t = ft->base;
    if (ft->mix == 'X')
        /* merged expert tensors (3-D) in MXFP4, the rest in Q8_0 */
        return fit_block(n_dims == 3 ? QT_MXFP4 : QT_Q8_0, ne0);
    bool quantized = t != QT_F32 && t != QT_F16 && t != QT_BF16;
    if (ft->read_only && (!strcmp(name, "output.weight") || !strcmp(name, "token_embd.weight")))
        /* no rule of llama.cpp's to follow without its mixes: the two
         * vocabulary matrices in the output's usual type, which chord can
         * quantize (a tied embedding asks as the output) */
        return fit_block(QT_Q6_K, ne0);
    if (quantized && !strcmp(name, "output.weight")) {
        /* the output matrix decides every logit: llama.cpp gives it Q6_K
         * unless the base is already Q8_0 */
        if (t != QT_Q8_0)
            t = QT_Q6_K;
        return fit_block(t, ne0);
    }
    if ((t == QT_IQ4_XS || t == QT_IQ4_NL) && layer >= 0 && layer < n_layer / 8 &&
        (ends_with(name, "ffn_down.weight") || ends_with(name, "ffn_down_exps.weight"))) {
        /* llama.cpp's choice for these types without an importance matrix:
         * the first eighth's ffn_down one step up */
        t = QT_Q5_K;
    } else if (ft->mix == 'M' && layer >= 0 && ends_with(name, "attn_qkv.weight")) {
        /* a fused q/k/v (phi3) is one step up in the _M mixes, as
         * llama.cpp has it */
        t = ft->base == QT_Q3_K ? QT_Q4_K : ft->base == QT_Q4_K ? QT_Q5_K : QT_Q6_K;
    } else if (ft->mix && layer >= 0) {
        bool attn_v = ends_with(name, "attn_v.weight");
        /* llama.cpp matches "ffn_down" in the name: the experts' too */
        bool ffn_down = ends_with(name, "ffn_down.weight") || ends_with(name, "ffn_down_exps.weight");
        if (ft->base == QT_Q3_K && ft->mix == 'M') {
            if (attn_v)
                t = layer < 2 ? QT_Q5_K : QT_Q4_K;
            else if (ffn_down)
                t = layer < n_layer / 16 ? QT_Q5_K : more_bits(layer, n_layer) ? QT_Q4_K : QT_Q3_K;
        } else if (ft->mix == 'M' && (attn_v || ffn_down) && more_bits(layer, n_layer)) {
            t = QT_Q6_K;
        } else if (ft->mix == 'S' && ffn_down && ft->base == QT_Q4_K && layer < n_layer / 8) {
            t = QT_Q5_K;
        }
    }
    return fit_block(t, ne0);
}

uint64_t synth_seed_for(uint64_t seed, const char *name)
{
    /* FNV-1a of the name, mixed with the seed */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return h ^ (seed * 0x9e3779b97f4a7c15ull);
}

float synth_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}
