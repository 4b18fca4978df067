"""Design: evaluate a formula on data. Imports only ``hierax.formula``."""

from hierax.design.block import Block, BlockShape
from hierax.design.build import Design, DesignInfo, as_pandas, build_design

__all__ = ["Block", "BlockShape", "Design", "DesignInfo", "as_pandas", "build_design"]
