/*
 * tmpl_chat.c - chord's chat-template API: renders messages with a model's
 * own Jinja template, or with one of the built-in families (themselves
 * Jinja sources run by the same interpreter), and guesses a model's family
 * from its template text or its vocabulary.
 */
#include "core/err.h"
#include "tmpl/tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in families: the common shape of each model line's template,
 * written for this project. A system message is folded into the first
 * user turn where the format has no system role. */
static const struct family {
    const char *name;
    const char *src;
} families[] = {
    {"chatml",
     "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
     "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
    {"llama2",
     "{% if messages and messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}"
     "{% set msgs = messages[1:] %}{% else %}{% set sys = '' %}{% set msgs = messages %}{% endif %}"
     "{% for m in msgs %}{% if m['role'] == 'user' %}{% set c = m['content'] %}"
     "{% if loop.first and sys %}{% set c = '<<SYS>>\\n' + sys + '\\n<</SYS>>\\n\\n' + c %}{% endif %}"
     "{{ bos_token + '[INST] ' + c.strip() + ' [/INST]' }}"
     "{% elif m['role'] == 'assistant' %}{{ ' ' + m['content'].strip() + ' ' + eos_token }}{% endif %}"
     "{% endfor %}"},
    {"llama3",
     "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n'"
     " + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"},
    {"zephyr",
     "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + eos_token + '\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"},
    {"phi3",
     "{% for m in messages %}{% if m['role'] != 'system' or m['content'] %}"
     "{{ '<|' + m['role'] + '|>\\n' + m['content'] + '<|end|>\\n' }}{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"},
    {"gemma",
     "{{ bos_token }}{% if messages and messages[0]['role'] == 'system' %}"
     "{% set sys = messages[0]['content'] | trim + '\\n\\n' %}{% set msgs = messages[1:] %}"
     "{% else %}{% set sys = '' %}{% set msgs = messages %}{% endif %}"
     "{% for m in msgs %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
     "{{ '<start_of_turn>' + role + '\\n' + (sys if loop.first else '') + m['content'] | trim + '<end_of_turn>\\n' }}"
     "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"},
    {"mistral",
     "{{ bos_token }}{% if messages and messages[0]['role'] == 'system' %}"
     "{% set sys = messages[0]['content'] + '\\n\\n' %}{% set msgs = messages[1:] %}"
     "{% else %}{% set sys = '' %}{% set msgs = messages %}{% endif %}"
     "{% for m in msgs %}{% if m['role'] == 'user' %}{{ '[INST] ' + (sys if loop.first else '') + m['content'] + ' [/INST]' }}"
     "{% elif m['role'] == 'assistant' %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}"},
};

#define N_FAMILIES (sizeof families / sizeof *families)

const char *const *chord_chat_families(void)
{
    /* the same names as families[], in order; tmpl_language checks that
     * each one renders */
    static const char *const names[] = {"chatml", "llama2", "llama3", "zephyr", "phi3", "gemma", "mistral", NULL};
    _Static_assert(sizeof names / sizeof *names == N_FAMILIES + 1, "family list out of step");
    return names;
}

static const struct family *find_family(const char *name)
{
    for (size_t i = 0; name && i < N_FAMILIES; i++)
        if (strcmp(families[i].name, name) == 0)
            return &families[i];
    return NULL;
}

/* Markers that give a family away, in the order they are checked: a
 * template or vocabulary with several (phi3 also has <|user|>) matches the
 * first. need2 must be present too when set. */
static const struct marker {
    const char *text, *need2, *family;
} markers[] = {
    {"<|im_start|>", NULL, "chatml"},
    {"<|start_header_id|>", NULL, "llama3"},
    {"<start_of_turn>", NULL, "gemma"},
    {"<|user|>", "<|end|>", "phi3"},
    {"<|user|>", NULL, "zephyr"},
    {"<<SYS>>", NULL, "llama2"},
    {"[INST]", NULL, "mistral"},
};

static const char *detect_text(const char *t)
{
    for (size_t i = 0; i < sizeof markers / sizeof *markers; i++)
        if (strstr(t, markers[i].text) && (!markers[i].need2 || strstr(t, markers[i].need2)))
            return find_family(markers[i].family)->name;
    return NULL;
}

/* The template text decides when it has a known marker; otherwise the
 * vocabulary does (a model without a template but with <|im_start|> is
 * ChatML). */
const char *chord_chat_detect_family(const chord_model *m)
{
    if (!m)
        return NULL;
    const char *t = chord_model_meta_str(m, "tokenizer.chat_template");
    const char *f = t ? detect_text(t) : NULL;
    if (f)
        return f;
    /* no template (or an unknown one): look for the control tokens */
    chord_model_info info;
    chord_model_get_info(m, &info);
    bool seen[sizeof markers / sizeof *markers * 2] = {0};
    for (int id = 0; id < info.n_vocab; id++) {
        const char *s = chord_token_text(m, id);
        if (!s || (s[0] != '<' && s[0] != '['))
            continue;
        for (size_t i = 0; i < sizeof markers / sizeof *markers; i++) {
            if (strcmp(s, markers[i].text) == 0)
                seen[2 * i] = true;
            if (markers[i].need2 && strcmp(s, markers[i].need2) == 0)
                seen[2 * i + 1] = true;
        }
    }
    for (size_t i = 0; i < sizeof markers / sizeof *markers; i++)
        if (seen[2 * i] && (!markers[i].need2 || seen[2 * i + 1]))
            return find_family(markers[i].family)->name;
    return NULL;
}

/* Renders a parsed template with the context transformers gives one:
 * messages, add_generation_prompt, bos_token, eos_token, tools = None and
 * documents = None. */
static chord_status render_msgs(const tmpl *t, const chord_chat_msg *msgs, int n_msgs,
                                bool add_generation_prompt, const char *bos, const char *eos,
                                chord_thinking thinking, char **out, chord_err *err)
{
    static char k_role[] = "role", k_content[] = "content";
    static char *msg_keys[2] = {k_role, k_content};
    static char k_msgs[] = "messages", k_agp[] = "add_generation_prompt", k_bos[] = "bos_token",
                k_eos[] = "eos_token", k_tools[] = "tools", k_docs[] = "documents",
                k_think[] = "enable_thinking";
    static char *ctx_keys[7] = {k_msgs, k_agp, k_bos, k_eos, k_tools, k_docs, k_think};

    if (n_msgs < 0 || (n_msgs > 0 && !msgs) || !out)
        return err_set(err, CHORD_E_INVALID, "chat template: bad arguments");
    chord_json *items = calloc((size_t)n_msgs * 3 + 1, sizeof *items);
    if (!items)
        return err_set(err, CHORD_E_NOMEM, "chat template: out of memory");
    chord_json *fields = items + n_msgs;
    for (int i = 0; i < n_msgs; i++) {
        if (!msgs[i].role) {
            free(items);
            return err_set(err, CHORD_E_INVALID, "chat template: message %d has no role", i);
        }
        const char *s[2] = {msgs[i].role, msgs[i].content ? msgs[i].content : ""};
        for (int k = 0; k < 2; k++) {
            fields[2 * i + k].type = CHORD_JSON_STRING;
            fields[2 * i + k].string = (char *)s[k];
            fields[2 * i + k].len = strlen(s[k]);
        }
        items[i].type = CHORD_JSON_OBJECT;
        items[i].len = 2;
        items[i].items = &fields[2 * i];
        items[i].keys = msg_keys;
    }
    chord_json vals[7] = {0};
    vals[0].type = CHORD_JSON_ARRAY;
    vals[0].len = (size_t)n_msgs;
    vals[0].items = items;
    vals[1].type = add_generation_prompt ? CHORD_JSON_TRUE : CHORD_JSON_FALSE;
    const char *tok[2] = {bos ? bos : "", eos ? eos : ""};
    for (int k = 0; k < 2; k++) {
        vals[2 + k].type = CHORD_JSON_STRING;
        vals[2 + k].string = (char *)tok[k];
        vals[2 + k].len = strlen(tok[k]);
    }
    vals[4].type = vals[5].type = CHORD_JSON_NULL;
    /* enable_thinking only when asked: templates test "is defined" */
    vals[6].type = thinking == CHORD_THINK_ON ? CHORD_JSON_TRUE : CHORD_JSON_FALSE;
    chord_json ctx = {.type = CHORD_JSON_OBJECT, .len = thinking ? 7 : 6, .items = vals,
                      .keys = ctx_keys};
    chord_status st = tmpl_render(t, &ctx, out, NULL, err);
    free(items);
    return st;
}

chord_status chord_chat_render_builtin(const char *family, const chord_chat_msg *msgs, int n_msgs,
                                       bool add_generation_prompt, const char *bos,
                                       const char *eos, char **out, chord_err *err)
{
    const struct family *f = find_family(family);
    if (!f)
        return err_set(err, CHORD_E_INVALID, "unknown chat template family '%s'", family ? family : "(null)");
    tmpl *t;
    char label[64];
    snprintf(label, sizeof label, "built-in %s template", f->name);
    chord_status st = tmpl_parse(f->src, strlen(f->src), label, &t, err);
    if (st != CHORD_OK)
        return st;
    st = render_msgs(t, msgs, n_msgs, add_generation_prompt, bos, eos, CHORD_THINK_DEFAULT, out,
                     err);
    tmpl_free(t);
    return st;
}

static const char *token_text_or_empty(const chord_model *m, chord_token id)
{
    const char *s = id >= 0 ? chord_token_text(m, id) : NULL;
    return s ? s : "";
}

/* An explicit template must parse and run. The model's own may fall back
 * to the family it looks like (or ChatML) when it is missing, does not
 * parse, or needs something this interpreter lacks; a template that
 * raises is an error either way. bos/eos NULL = the model's token texts. */
chord_status chord_chat_render(const chord_model *m, const char *template_src,
                               const chord_chat_msg *msgs, int n_msgs,
                               bool add_generation_prompt, const char *bos, const char *eos,
                               char **out, chord_err *err)
{
    return chord_chat_render_thinking(m, template_src, msgs, n_msgs, add_generation_prompt, bos,
                                      eos, CHORD_THINK_DEFAULT, out, err);
}

chord_status chord_chat_render_thinking(const chord_model *m, const char *template_src,
                                        const chord_chat_msg *msgs, int n_msgs,
                                        bool add_generation_prompt, const char *bos,
                                        const char *eos, chord_thinking thinking, char **out,
                                        chord_err *err)
{
    if (m) {
        if (!bos)
            bos = token_text_or_empty(m, chord_token_bos(m));
        if (!eos)
            eos = token_text_or_empty(m, chord_token_eos(m));
    }
    const char *src = template_src;
    bool own = false;
    if (!src) {
        if (!m)
            return err_set(err, CHORD_E_INVALID, "chat template: no template and no model");
        src = chord_model_meta_str(m, "tokenizer.chat_template");
        own = true;
    }
    tmpl *t = NULL;
    if (src) {
        chord_err perr;
        chord_status st = tmpl_parse(src, strlen(src), own ? "tokenizer.chat_template" : NULL, &t,
                                     own ? &perr : err);
        /* an explicit template must parse; the model's own may fall back */
        if (st != CHORD_OK && !own)
            return st;
        if (st == CHORD_E_NOMEM)
            return err_set(err, st, "%s", perr.msg);
    }
    if (!t) {
        const char *fam = chord_chat_detect_family(m);
        return chord_chat_render_builtin(fam ? fam : "chatml", msgs, n_msgs, add_generation_prompt,
                                         bos, eos, out, err);
    }
    chord_status st = render_msgs(t, msgs, n_msgs, add_generation_prompt, bos, eos, thinking, out,
                                  err);
    tmpl_free(t);
    if (st == CHORD_E_UNSUPPORTED && own) {
        /* the model's template needs a filter or method this interpreter
         * lacks: the family it looks like does better than nothing */
        const char *fam = chord_chat_detect_family(m);
        return chord_chat_render_builtin(fam ? fam : "chatml", msgs, n_msgs, add_generation_prompt,
                                         bos, eos, out, err);
    }
    /* to callers, a template this engine cannot run is a template error */
    return st == CHORD_E_UNSUPPORTED ? CHORD_E_TEMPLATE : st;
}
