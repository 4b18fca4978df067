"""brms's formula terms that hierax does not have yet, each with what to do instead.

A brms user's first try of a missing feature should meet a sentence that names the feature and
a way forward, not "unknown function"; the parser (an empty ``mi()``) and the resolver both
look here.
"""

_DROP_OR_IMPUTE = ("drop the rows with missing values, or impute them outside hierax (e.g. with R's mice) and "
                   "pool the fits to the imputed data sets with hx.pool_fits")
NOT_YET = {
}
