"""One self-contained HTML report of a fit: model, priors, diagnostics in words, tables, plots.

Images are embedded as PNG data URIs and the style is inline, so the file can be mailed or
archived alone; there is no script, so it renders the same anywhere.
"""

from hierax.report.html import write_report

__all__ = ["write_report"]
