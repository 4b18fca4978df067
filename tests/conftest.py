"""hierax is imported before any test module imports JAX's users (BlackJAX creates arrays when
imported), so that every test runs with the JAX set-up users get: float64 and one CPU device per
core (``hierax._jax_setup``)."""

import hierax  # noqa: F401
