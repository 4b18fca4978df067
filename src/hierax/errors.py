"""Exceptions raised at hierax's boundaries.

Every error a user can cause is one of these, with a message that names the problem and the fix.
They subclass ``ValueError`` so that code catching the standard exception keeps working.
"""

from __future__ import annotations


class HieraxError(ValueError):
    """Base class of every user-facing hierax error."""


class FormulaError(HieraxError):
    """A formula that cannot be parsed or resolved.

    The message shows the formula with a caret under the offending position.
    """

    def __init__(self, message: str, text: str | None = None, position: int | None = None):
        self.text = text
        self.position = position
        self.reason = message
        if text is not None and position is not None:
            message = f"{message}\n  {text}\n  {' ' * position}^"
        super().__init__(message)


class DataError(HieraxError):
    """Data that do not fit the formula: missing columns, NaN, non-numeric responses, ..."""


class ModelError(HieraxError):
    """An unknown family, link or prior, or a prior that does not fit its parameter."""


class ModeWarning(UserWarning):
    """A posterior mode (``method="map"``) that misleads: a group sd at or near zero."""
