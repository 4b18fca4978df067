"""Turn formula text into tokens, each with its position for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hierax.errors import FormulaError

# Longest operators first so that "||" is not read as two "|".
_OPERATORS = ("||", "~", "+", "-", "*", "/", ":", "|", "^", "(", ")", ",", "=")
# Letters of any script (R allows them too: `température`, `地区`), digits, "_" and "."; not a digit first.
_NAME = re.compile(r"(?:[^\W\d]|\.)[\w.]*")
# ASCII digits only: Python's \d would take other scripts' digits, which R does not read as numbers.
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ASCII_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Token:
    """One lexical unit: ``kind`` is "name", "number", "op" or "end"."""

    kind: str
    text: str
    position: int


def scan(text: str) -> list[Token]:
    r"""Split formula ``text`` into tokens, ending with an "end" token.

    Names follow R: letters (of any script, so ``température`` and ``地区`` need no quoting),
    digits, ``_`` and ``.``, not starting with a digit. A name in backticks may hold any character
    but a backtick, for columns such as ``\`log radon\``` or ``\`2019\```.
    """
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise FormulaError("unclosed backtick in a column name; close it, e.g. `log radon`", text, i)
            if end == i + 1:
                raise FormulaError("empty column name between backticks; put the column's name between them, "
                                   "e.g. `log radon`", text, i)
            tokens.append(Token("name", text[i + 1 : end], i))
            i = end + 1
            continue
        number = _NUMBER.match(text, i)
        if number and (char in _ASCII_DIGITS or (char == "." and number.end() > i + 1)):
            tokens.append(Token("number", number.group(), i))
            i = number.end()
            continue
        name = _NAME.match(text, i)
        if name:
            tokens.append(Token("name", name.group(), i))
            i = name.end()
            continue
        op = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if op is None:
            raise FormulaError(_unexpected(char), text, i)
        tokens.append(Token("op", op, i))
        i += len(op)
    tokens.append(Token("end", "", len(text)))
    return tokens


# Characters that look like an operator, as word processors and some keyboards write them.
_LOOKALIKES = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\uff5e": "~", "\u223c": "~", "\uff0b": "+",
               "\u00d7": "*", "\u2217": "*", "\uff1a": ":", "\uff08": "(", "\uff09": ")", "\uff5c": "|",
               "\u2223": "|", "\uff0c": ","}


def _unexpected(char: str) -> str:
    """The message for a character that is neither part of a name nor an operator."""
    if char in _LOOKALIKES:
        return (f"unexpected character {char!r} (U+{ord(char):04X}), which looks like {_LOOKALIKES[char]!r}; "
                f"type {_LOOKALIKES[char]!r} instead (text copied from a document often holds such characters)")
    return (f"unexpected character {char!r}; a column name with characters other than letters, digits, '_' "
            "and '.' can be written in backticks, e.g. `log radon`")
