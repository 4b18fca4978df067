"""Programs compiled for a quick compile compute what a plain jit computes."""

from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np

from hierax.engines.quick import quick_jit, quick_options


def test_quick_options_on_cpu_use_the_older_fusion_emitters_where_xla_has_them():
    """jaxlib up to 0.11 (the default stack's 0.10 among them) has XLA's older CPU fusion emitters;
    jaxlib 0.12's XLA removed them and refuses the option, so a quick compile is a plain one there."""
    jaxlib = tuple(int(part) for part in metadata.version("jaxlib").split(".")[:2])
    expected = {"xla_cpu_use_fusion_emitters": False} if jaxlib < (0, 12) else None
    assert quick_options() == expected


def test_a_quick_compile_gives_the_same_values_and_gradients():
    def f(x):
        return jnp.sum(jnp.log1p(jnp.exp(x)) * jnp.cos(x[::-1]))

    x = np.linspace(-3.0, 3.0, 101)
    value, grad = quick_jit(jax.value_and_grad(f))(x)
    plain_value, plain_grad = jax.jit(jax.value_and_grad(f))(x)
    np.testing.assert_allclose(value, plain_value, rtol=1e-12)
    np.testing.assert_allclose(grad, plain_grad, rtol=1e-12, atol=1e-14)
