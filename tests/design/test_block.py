"""The one block type (``hierax.design.block.Block``): built by the design, filled in by the
model, read by every engine, and carried to new rows for prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hierax.design import Block, build_design
from hierax.formula import parse_formula
from hierax.model.build import build_model

DATA = pd.DataFrame({"y": np.sin(np.arange(24.0)), "x": np.linspace(0, 1, 24), "g": list("aabbccddeeff") * 2})


def test_the_design_block_is_the_model_block_with_priors_filled_in():
    design_block = build_design(parse_formula("y ~ x + (1 + x | g)"), DATA).random[0]
    model_block = build_model("y ~ x + (1 + x | g)", DATA)[1].blocks[0]
    assert type(design_block) is type(model_block) is Block
    assert design_block.sd_priors == () and len(model_block.sd_priors) == 2
    assert (model_block.num_levels, model_block.num_terms, model_block.width) == (6, 2, 12)
    np.testing.assert_array_equal(model_block.group_index, design_block.group_index)


def test_the_shape_is_hashable_and_depends_on_no_data():
    block = build_design(parse_formula("y ~ x + (1 + x | g)"), DATA).random[0]
    other = block.on_rows(block.Z * 2.0, block.group_index[::-1])
    assert hash(block.shape) == hash(other.shape) and block.shape == other.shape
    assert block.shape.width == 12 and block.shape.has_cor


def test_a_block_on_new_rows_marks_unseen_levels():
    block = build_design(parse_formula("y ~ x + (1 | g)"), DATA).random[0]
    new = block.on_rows(np.ones((3, 1)), [0, -1, 2], np.array([None, "z", None], dtype=object))
    assert new.levels == block.levels and list(new.new_labels) == [None, "z", None]
    assert new.group_index.dtype == np.int64
    seen = block.on_rows(block.Z, block.group_index)
    assert all(label is None for label in seen.new_labels)


def test_an_engine_block_from_arrays_alone():
    block = Block.from_index(np.ones((4, 2)), np.array([0, 1, 1, 2]), 3, correlated=False)
    assert (block.num_levels, block.num_terms, block.width, block.has_cor) == (3, 2, 6, False)
