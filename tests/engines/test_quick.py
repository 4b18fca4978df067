"""Programs compiled for a quick compile compute what a plain jit computes."""

import jax
import jax.numpy as jnp
import numpy as np

from hierax.engines.quick import quick_jit, quick_options


def test_quick_options_on_cpu_use_the_older_fusion_emitters():
    assert quick_options() == {"xla_cpu_use_fusion_emitters": False}


def test_a_quick_compile_gives_the_same_values_and_gradients():
    def f(x):
        return jnp.sum(jnp.log1p(jnp.exp(x)) * jnp.cos(x[::-1]))

    x = np.linspace(-3.0, 3.0, 101)
    value, grad = quick_jit(jax.value_and_grad(f))(x)
    plain_value, plain_grad = jax.jit(jax.value_and_grad(f))(x)
    np.testing.assert_allclose(value, plain_value, rtol=1e-12)
    np.testing.assert_allclose(grad, plain_grad, rtol=1e-12, atol=1e-14)
