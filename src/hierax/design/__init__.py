"""Design: evaluate a formula on data. Imports only ``hierax.formula``."""

from hierax.design.build import Design, DesignInfo, RandomBlock, as_pandas, build_design

__all__ = ["Design", "DesignInfo", "RandomBlock", "as_pandas", "build_design"]
