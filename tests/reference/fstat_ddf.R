# lmerTest's rule for an F test's denominator df from the df of its q independent contrasts
# (lmerTest:::get_Fstat_ddf, lmerTest 3.1.3), on df vectors that reach each of its branches:
# one contrast, equal df, a df at or below 2, and the general 2 E / (E - q).
# Output: tests/reference/fstat_ddf.json, read by tests/results/test_ddf.py.
# Run: Rscript tests/reference/fstat_ddf.R (from the repository root).
library(jsonlite)
cases <- list(
  one = c(1.5),
  one_large = c(37.25),
  equal = c(12.5, 12.5, 12.5),
  at_two = c(2, 15.3),
  below_two = c(1.2, 8.7, 30.1),
  general = c(4.6, 11.2),
  general_three = c(3.1, 25.4, 140.9)
)
out <- list(
  lmerTest = as.character(packageVersion("lmerTest")),
  cases = lapply(cases, function(nu) list(nu = nu, ddf = lmerTest:::get_Fstat_ddf(nu)))
)
writeLines(toJSON(out, auto_unbox = FALSE, digits = NA, pretty = TRUE), "tests/reference/fstat_ddf.json")
