"""Linear algebra shared by the stages: the blocked Cholesky factorisation of penalised least
squares (``pls``), which the REML engine optimises over and the collapsed density integrates the
effects out with. Imports nothing else of hierax, so both may use it."""
