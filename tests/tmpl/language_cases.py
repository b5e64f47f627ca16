#!/usr/bin/env python3
"""The language cases of tmpl_language: (template, context, expected).

Each expected output is written by hand; running this script checks every
one against Jinja2 configured as Hugging Face transformers configures it
(trim_blocks, lstrip_blocks, loopcontrols, its tojson, raise_exception)
and then writes data/language.json, which the C test reads.
expected None = the render must fail (raise, or a Jinja error).

Run from the repository root:  python3 tests/tmpl/language_cases.py
"""
import json
import os
import sys

N = '\n'
CASES = [
    # output, literals, escapes
    ('a{{ 1 }}b{{ "x" }}{{ \'y\' }}', {}, 'a1bxy'),
    ('{{ "a\\tb\\n\\u00e9\\x41\\\\" }}', {}, 'a\tb\né' + 'A\\'),
    ('{{ "ab" "cd" }}', {}, 'abcd'),
    ('{{ none }}|{{ true }}|{{ False }}|{{ 3.0 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.5e-7 }}', {},
     'None|True|False|3.0|0.30000000000000004|1e+20|1.5e-07'),
    ('{{ [1, "a", none, true] }}{{ {"k": 1.5, "q": "it\'s"} }}{{ (1,) }}', {},
     "[1, 'a', None, True]{'k': 1.5, 'q': \"it's\"}(1,)"),
    ('{{ x }}|{{ x.y is defined }}', {'x': {'z': 1}}, "{'z': 1}|False"),
    # undefined
    ('[{{ nothing }}]{{ nothing is defined }}{{ nothing is undefined }}{% if not nothing %}F{% endif %}', {},
     '[]FalseTrueF'),
    ('{{ nothing + 1 }}', {}, None),
    ('{{ nothing.attr }}', {}, None),
    ('{{ nothing | length }}{% for x in nothing %}X{% endfor %}{{ "a" in nothing }}', {}, '0False'),
    ('{{ d.missing }}|{{ d["missing"] is defined }}|{{ l[5] is defined }}', {'d': {}, 'l': [1]}, '|False|False'),
    # arithmetic and comparisons
    ('{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 * 3 + 1 }} {{ 2 + 3 * 4 }}',
     {}, '3 -4 2 3.5 2.0 1024 7 14'),
    ('{{ "ab" * 3 }}{{ "a" ~ 1 ~ none ~ nothing }}{{ [1] + [2] }}', {}, 'abababa1None[1, 2]'),
    ('{{ 1 == 1.0 }}{{ "a" < "b" }}{{ 2 >= 3 }}{{ [1,2] == [1,2] }}{{ {"a":1} != {"a":1} }}', {},
     'TrueTrueFalseTrueFalse'),
    ('{{ "a" + 1 }}', {}, None),
    ('{{ 1 < "a" }}', {}, None),
    ('{{ "ell" in "hello" }}{{ 2 in [1,2] }}{{ "k" in {"k":1} }}{{ 3 not in [3] }}{{ not 3 in [3] }}', {},
     'TrueTrueTrueFalseFalse'),
    ('{{ a and b }}|{{ a or b }}|{{ b or "x" }}|{{ not a }}', {'a': 0, 'b': 'B'}, '0|B|B|True'),
    ('{{ "y" if c else "n" }}{{ "y" if not c else "n" }}[{{ "z" if false }}]', {'c': True}, 'yn[]'),
    ('{{ -x | abs }}{{ -2 ** 2 }}', {'x': 3}, '34'),
    # filters
    ('{{ "  hi \\n" | trim }}|{{ "xxhixx" | trim("x") }}|{{ s | length }}', {'s': 'héllo'}, 'hi|hi|5'),
    ('{{ "hello world" | title }}|{{ "hELLO wORLD" | capitalize }}|{{ "abc" | upper }}|{{ "ABC" | lower }}', {},
     'Hello World|Hello world|ABC|abc'),
    ('{{ x | default("d") }}|{{ "" | default("d") }}|{{ "" | default("d", true) }}|{{ none | d("n", boolean=true) }}',
     {}, 'd||d|n'),
    ('{{ [1,2,3] | join(", ") }}|{{ ["a","b"] | join }}|{{ [3,1,2] | first }}{{ [3,1,2] | last }}|{{ "abc" | list }}',
     {}, "1, 2, 3|ab|32|['a', 'b', 'c']"),
    ('{{ {"a":1,"b":2} | items | list }}|{% for k, v in {"x":1,"y":2} | items %}{{k}}={{v}};{% endfor %}', {},
     "[('a', 1), ('b', 2)]|x=1;y=2;"),
    ('{{ 3 | string }}{{ "5" | int + 1 }}{{ "x" | int }}{{ 3.9 | int }}{{ "2.5" | float }}{{ "q" | int(7) }}', {},
     '3603' + '2.57'),
    ('{{ "aXbXc" | replace("X", "-") }}|{{ "aaa" | replace("a", "b", 2) }}', {}, 'a-b-c|bba'),
    ('{{ [3,1,2] | sort | list }}{{ [1,2,1] | unique | list }}{{ [1,2] | reverse | list }}{{ "ab" | reverse }}'
     '{{ [1,2,3] | sum }}{{ [4,9,2] | max }}{{ [4,9,2] | min }}', {}, '[1, 2, 3][1, 2][2, 1]ba692'),
    ('{{ msgs | selectattr("role", "equalto", "user") | map(attribute="content") | join(",") }}|'
     '{{ msgs | rejectattr("role", "equalto", "user") | list | length }}|'
     '{{ ["a", "", "b"] | select | list }}|{{ [1, 2, 3, 4] | reject("odd") | list }}|'
     '{{ ["a","b"] | map("upper") | join }}',
     {'msgs': [{'role': 'user', 'content': 'u1'}, {'role': 'assistant', 'content': 'a1'},
               {'role': 'user', 'content': 'u2'}]},
     "u1,u2|1|['a', 'b']|[2, 4]|AB"),
    ('{{ "a\nb\n\nc" | indent }}|{{ "a\nb\n" | indent(2, true) }}|{{ "a\n\nb" | indent("> ", blank=true) }}|{{ "" | indent(first=true) }}',
     {}, 'a\n    b\n\n    c|  a\n  b\n|a\n> \n> b|    '),
    ('{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}|{{ d | dictsort(reverse=true) | first }}|{{ d | dictsort(false, "value") | last }}',
     {'d': {'b': 1, 'A': 3, 'c': 2}}, "A3b1c2|('c', 2)|('A', 3)"),
    ('{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(2) }} {{ 2.1 | round(0, "ceil") }} {{ 2.9 | round(method="floor") }} {{ 3 | round }}',
     {}, '2.0 4.0 2.57 3.0 2.0 3'),
    ('{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 1 == 1 != 2 }}{{ "a" in "abc" in "xabcx" }}', {}, 'TrueFalseTrueTrue'),
    # tojson as transformers does it
    ('{{ v | tojson }}', {'v': {'a': [1, 2.5, 'é"\n\u0001<>&\''], 'b': None, 'c': True, 'd': {}}},
     '{"a": [1, 2.5, "é\\"\\n\\u0001<>&\'"], "b": null, "c": true, "d": {}}'),
    ('{{ v | tojson(indent=2) }}', {'v': {'a': [1, {}], 'c': [], 'd': {'e': 'f'}}},
     '{\n  "a": [\n    1,\n    {}\n  ],\n  "c": [],\n  "d": {\n    "e": "f"\n  }\n}'),
    ('{{ nothing | tojson }}', {}, None),
    ('{{ v | tojson(sort_keys=true) }}|{{ v | tojson(separators=(",", ":")) }}|{{ v | tojson(true) }}|{{ v | tojson(indent="\t") }}',
     {'v': {'b': 'é😀', 'a': [1, {'d': 0, 'c': None}]}},
     '{"a": [1, {"c": null, "d": 0}], "b": "é😀"}|{"b":"é😀","a":[1,{"d":0,"c":null}]}|'
     '{"b": "\\u00e9\\ud83d\\ude00", "a": [1, {"d": 0, "c": null}]}|'
     '{\n\t"b": "é😀",\n\t"a": [\n\t\t1,\n\t\t{\n\t\t\t"d": 0,\n\t\t\t"c": null\n\t\t}\n\t]\n}'),
    ('{{ {"b": {"z": 1, "y": 2}, "a": 0} | tojson(indent=1, sort_keys=true) }}', {},
     '{\n "a": 0,\n "b": {\n  "y": 2,\n  "z": 1\n }\n}'),
    # string methods
    ('{{ "  a b  ".strip() }}|{{ "xxaxx".strip("x") }}|{{ "  a".lstrip() }}|{{ "a\\n\\n".rstrip("\\n") }}|{{ " a ".rstrip() }}|',
     {}, 'a b|a|a|a| a|'),
    ('{{ "abc".startswith("ab") }}{{ "abc".endswith("bc") }}{{ "abc".startswith(("x","a")) }}{{ "abc".endswith("x") }}',
     {}, 'TrueTrueTrueFalse'),
    ('{{ "a b  c".split() }}{{ "a,b,,c".split(",") }}{{ "a,b,c".split(",", 1) }}{{ "x</think>y".split("</think>")[-1] }}',
     {}, "['a', 'b', 'c']['a', 'b', '', 'c']['a', 'b,c']y"),
    ('{{ "hello".replace("l", "L") }}{{ "Hi There".upper() }}{{ "Hi There".lower() }}{{ "hi there".title() }}', {},
     'heLLoHI THEREhi thereHi There'),
    ('{{ d.get("a") }}{{ d.get("z") }}{{ d.get("z", 5) }}{{ d.keys() | list }}{{ d.values() | list }}'
     '{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}', {'d': {'a': 1, 'b': 2}}, "1None5['a', 'b'][1, 2]a1b2"),
    # slicing and indexing
    ('{{ "abcdef"[1:3] }}|{{ "abcdef"[::-1] }}|{{ "abcdef"[-2:] }}|{{ [1,2,3,4][1:] }}|{{ [1,2,3,4][::2] }}|'
     '{{ [1,2,3][-1] }}|{{ "héllo"[1] }}|{{ "héllo"[:-1] }}|{{ [1,2,3][5:] }}', {},
     'bc|fedcba|ef|[2, 3, 4]|[1, 3]|3|é|héll|[]'),
    ('{{ m.role }}{{ m["content"] }}{{ l.0 }}', {'m': {'role': 'r', 'content': 'c'}, 'l': ['z']}, 'rcz'),
    # tests
    ('{{ 1 is number }}{{ "a" is string }}{{ none is none }}{{ {} is mapping }}{{ [] is iterable }}'
     '{{ "a" is iterable }}{{ 1 is iterable }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}'
     '{{ false is false }}{{ 0 is false }}{{ true is true }}{{ "a" is equalto "a" }}{{ 1 is integer }}'
     '{{ 1.0 is float }}{{ x is not defined }}{{ "abc" is lower }}{{ 2 is in [1, 2] }}', {},
     'TrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrue'),
    # loops
    ('{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}'
     '{{ loop.revindex }};{% endfor %}', {'xs': ['a', 'b']}, '10TrueFalse22;21FalseTrue21;'),
    ('{% for x in [] %}X{% else %}empty{% endfor %}|{% for x in [1,2,3,4] if x is even %}{{ x }}/{{ loop.length }}{% endfor %}',
     {}, 'empty|2/24/2'),
    ('{% for x in [1,2,3,4,5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}',
     {}, '13'),
    ('{% for c in "ab" %}{{ c }}.{% endfor %}{% for k in {"p": 1, "q": 2} %}{{ k }}{% endfor %}'
     '{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}', {}, 'a.b.pq012135'),
    ('{% for x in xs %}{{ loop.previtem }}>{{ x }}<{{ loop.nextitem }} {% endfor %}', {'xs': [1, 2, 3]},
     '>1<2 1>2<3 2>3< '),
    # scoping: a set in a loop does not leak; namespace() does
    ('{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}', {}, '1110'),
    ('{% set ns = namespace(n=0, s="") %}{% for i in range(3) %}{% set ns.n = ns.n + i %}'
     '{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}', {}, '3 012'),
    ('{% set ns = namespace() %}{% set ns.a = 5 %}{{ ns.a }}', {}, '5'),
    ('{% set d = {} %}{% set d.a = 1 %}', {}, None),
    ('{% set a, b = 1, 2 %}{{ b }}{{ a }}{% set t %}in{{ 1 + 1 }}{% endset %}[{{ t }}]', {}, '21[in2]'),
    ('{% if x %}X{% set y = 1 %}{% endif %}{{ y }}', {'x': True}, 'X1'),
    # if/elif/else
    ('{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %} {% endfor %}', {},
     'one two many '),
    # macros
    ('{% macro greet(name, punct="!") %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet("A") }} {{ greet("B", "?") }}'
     ' {{ greet(punct=".", name="C") }}', {}, 'Hi A! Hi B? Hi C.'),
    # globals
    ('{{ raise_exception("boom: " ~ 1) }}', {}, None),
    ('{{ strftime_now is defined }}{{ range(3) | list }}{{ dict(a=1) }}', {}, "True[0, 1, 2]{'a': 1}"),
    # comments and whitespace control
    ('a {# note #} b{#- x -#} c', {}, 'a  bc'),
    ('a  {{- "b" -}}  c', {}, 'abc'),
    ('a\n  {%- if true %}\nb\n  {%- endif %}\n c', {}, 'ab c'),
    ('x\n{% if true %}\n  y\n{% endif %}\nz\n', {}, 'x\n  y\nz'),
    ('  {% if true %}\n    A\n  {% endif %}\n', {}, '    A\n'),
    ('  {{ "v" }}\n', {}, '  v'),
    ('line\n    {% for i in [1,2] %}\n{{ i }}\n    {% endfor %}\nend', {}, 'line\n1\n2\nend'),
    ('a  {%+ if true %}b{% endif +%}\nc', {}, 'a  b\nc'),
    ('{# c #}\nA\n  {# c2 #}\nB', {}, 'A\nB'),
    ('{% if true -%}\n\n  x  \n\n  {%- endif %}.', {}, 'x.'),
    ('a\r\nb{% if true %}\r\nc{% endif %}\r\n', {}, 'a\nbc'),
    ('{% generation %}gen{% endgeneration %}', {}, 'gen'),
    ('a{% raw %}\n{{ x }}{% if %}\n  {% endraw %}\nb{%- raw -%}  {#c#}  {%- endraw -%} d', {}, 'a\n{{ x }}{% if %}\nb{#c#}d'),
]


class TemplateError(Exception):
    pass


def raise_exception(msg):
    raise TemplateError(msg)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def main():
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2 import nodes
    from jinja2.ext import Extension

    class Generation(Extension):
        tags = {'generation'}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(('name:endgeneration',), drop_needle=True)
            return nodes.Scope(body).set_lineno(lineno)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=['jinja2.ext.loopcontrols', Generation])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = lambda fmt: 'now'
    bad = 0
    out = []
    for src, ctx, want in CASES:
        try:
            got = env.from_string(src).render(**ctx)
        except Exception:
            got = None
        if got != want:
            bad += 1
            print('MISMATCH', repr(src), 'jinja2:', repr(got), 'case:', repr(want), file=sys.stderr)
        out.append({'template': src, 'context': ctx, 'expected': want})
    path = os.path.join(os.path.dirname(__file__), 'data', 'language.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump({'generated_by': 'tests/tmpl/language_cases.py (hand-written, checked with Jinja2)',
                   'cases': out}, f, ensure_ascii=False, indent=1)
        f.write('\n')
    print(len(CASES), 'cases,', bad, 'mismatches', file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
