"""Turn formula text into tokens, each with its position for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hierax.errors import FormulaError

# Longest operators first so that "||" is not read as two "|".
_OPERATORS = ("||", "~", "+", "-", "*", "/", ":", "|", "^", "(", ")", ",", "=")
_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Token:
    """One lexical unit: ``kind`` is "name", "number", "op" or "end"."""

    kind: str
    text: str
    position: int


def scan(text: str) -> list[Token]:
    r"""Split formula ``text`` into tokens, ending with an "end" token.

    Names follow R (letters, digits, ``_`` and ``.``); a name in backticks may hold any
    character but a backtick, for columns such as ``\`log radon\```.
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
                raise FormulaError("unclosed backtick in a column name", text, i)
            if end == i + 1:
                raise FormulaError("empty column name between backticks", text, i)
            tokens.append(Token("name", text[i + 1 : end], i))
            i = end + 1
            continue
        number = _NUMBER.match(text, i)
        if number and (char.isdigit() or (char == "." and number.end() > i + 1)):
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
            raise FormulaError(f"unexpected character {char!r}", text, i)
        tokens.append(Token("op", op, i))
        i += len(op)
    tokens.append(Token("end", "", len(text)))
    return tokens
