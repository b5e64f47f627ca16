/*
 * tok_unicode.h - the little Unicode the tokenizers need: UTF-8 decoding the
 * way the reference tokenizer does it, a code point's coarse class (letter,
 * number, punctuation, other), white space, and GPT-2's byte <-> printable
 * code point alphabet. Internal to engine/tok.
 */
#ifndef CHORD_TOK_UNICODE_H
#define CHORD_TOK_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Coarse classes, as the pre-tokenizer regexes use them (\p{L}, \p{N},
 * \p{P}); everything else is TOK_CLS_OTHER. */
enum { TOK_CLS_OTHER = 0, TOK_CLS_L = 1, TOK_CLS_N = 2, TOK_CLS_P = 3 };

typedef struct tok_ucd_range {
    uint32_t lo, hi;
    uint8_t cls;
} tok_ucd_range;

/* Generated tables (tok_ucd_data.c). */
extern const tok_ucd_range tok_ucd_classes[];
extern const int tok_ucd_n_classes;
extern const tok_ucd_range tok_ucd_deepseek_letters[];
extern const int tok_ucd_n_deepseek_letters;

#define TOK_REPLACEMENT 0xFFFDu

/* Length of the UTF-8 sequence a lead byte announces (1 for continuation
 * and invalid bytes), the way the reference splits text into symbols. */
static inline int tok_utf8_len(unsigned char c)
{
    static const int8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* Decodes one code point at s[*i] (i < n) and advances *i. A malformed or
 * truncated sequence consumes one byte and gives U+FFFD. */
uint32_t tok_utf8_next(const char *s, size_t n, size_t *i);

/* Encodes cp (<= 0x10FFFF) into out (4 bytes of room); returns the length. */
int tok_utf8_put(uint32_t cp, char *out);

/* TOK_CLS_* of a code point; white space is TOK_CLS_OTHER (test it with
 * tok_is_space first, as the reference does). */
int tok_cls(uint32_t cp);
/* The Unicode White_Space property (what \s means to the reference). */
bool tok_is_space(uint32_t cp);
/* In the deepseek-llm pre-tokenizer's literal letter class. */
bool tok_is_deepseek_letter(uint32_t cp);

/* GPT-2's byte-level alphabet: every byte maps to one printable code point
 * (printable Latin-1 bytes to themselves, the others to U+0100 + k). */
uint32_t tok_byte_to_cp(unsigned char b);
/* The byte a code point of that alphabet stands for, or -1. */
int tok_cp_to_byte(uint32_t cp);

#endif
