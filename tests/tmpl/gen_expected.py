#!/usr/bin/env python3
"""Generates tests/tmpl/data/expected.json: reference renders of every
template in ../shared/ref/chat (including the ones that have no .json
there), for the three shared conversations, with and without the
generation prompt.

How they are made: Jinja2 (3.1.6 when this was run) configured the way
Hugging Face transformers renders chat templates: an immutable sandboxed
environment with trim_blocks, lstrip_blocks and the loopcontrols
extension; tojson = json.dumps(x, ensure_ascii=False, indent=...);
globals raise_exception (raises) and strftime_now (formats a FIXED time,
NOW below, in UTC, so the output does not depend on the day it runs);
context: messages, add_generation_prompt, bos_token, eos_token,
tools=None, documents=None. A render that raises is stored as null.

Run from the repository root:  python3 tests/tmpl/gen_expected.py
"""
import datetime
import json
import os
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = 1785000000  # 2026-07-25 17:20:00 UTC
REF = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'ref', 'chat')
OUT = os.path.join(os.path.dirname(__file__), 'data', 'expected.json')

# bos/eos strings each model family uses ("" where the tokenizer has none)
TOKENS = {
    'deepseek-r1-distill': ('<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>'),
    'gemma2': ('<bos>', '<eos>'),
    'granite3.3': ('<|end_of_text|>', '<|end_of_text|>'),
    'llama2': ('<s>', '</s>'),
    'llama3.1': ('<|begin_of_text|>', '<|eot_id|>'),
    'llama3.2': ('<|begin_of_text|>', '<|eot_id|>'),
    'mistral-nemo': ('<s>', '</s>'),
    'phi3.5': ('<s>', '<|endoftext|>'),
    'qwen2.5-chatml': ('', '<|im_end|>'),
    'qwen3': ('', '<|im_end|>'),
    'smollm3': ('', '<|im_end|>'),
    'tinyllama-zephyr': ('<s>', '</s>'),
}


class TemplateError(Exception):
    pass


def raise_exception(msg):
    raise TemplateError(msg)


def strftime_now(fmt):
    return datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).strftime(fmt)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                      separators=separators, sort_keys=sort_keys)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=['jinja2.ext.loopcontrols'])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = strftime_now
    convs = json.load(open(os.path.join(REF, 'llama2.json'), encoding='utf-8'))['conversations']
    cases = []
    for name in sorted(TOKENS):
        src = open(os.path.join(REF, name + '.jinja'), encoding='utf-8').read()
        tpl = env.from_string(src)
        bos, eos = TOKENS[name]
        for conv in sorted(convs):
            for agp in (True, False):
                try:
                    out = tpl.render(messages=convs[conv], add_generation_prompt=agp,
                                     bos_token=bos, eos_token=eos, tools=None, documents=None)
                except TemplateError as e:
                    out = None
                cases.append({'template': name, 'conversation': conv,
                              'add_generation_prompt': agp, 'bos_token': bos,
                              'eos_token': eos, 'expected': out})
    doc = {'generated_by': 'tests/tmpl/gen_expected.py (see its docstring)',
           'now_unix': NOW, 'conversations': convs, 'cases': cases}
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write('\n')
    print('wrote', OUT, len(cases), 'cases', file=sys.stderr)


if __name__ == '__main__':
    main()
