"""Shared vocabulary every layer uses: the refusal base class (errors),
Ctrl-C as an exception (interrupts), text and its escaping (text), the run's
console lines (console), one-line command-line errors (cliargs) and the value
every load engine returns (loadresult).

May import: nothing from lib.
"""
