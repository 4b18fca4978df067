# brms::hypothesis() on a plain data frame of posterior draws (hypothesis.default; no Stan model,
# no prior draws), for the sleepstudy draws in data/sleepstudy_draws.csv (2,000 draws of b_Intercept,
# b_Days, sd_Subject__Intercept, sd_Subject__Days, cor_Subject__Intercept__Days, sigma). Each
# hypothesis is evaluated on its own; every column of the returned $hypothesis table is recorded.
# How brms 2.18.0 computes the table (brms:::eval_hypothesis, get_estimate, evidence_ratio):
# - Sign convention: whitespace is stripped and "left OP right" becomes h = "(left)-(right)" (just
#   "(left)" when right is "0"); d = h evaluated per draw. Everything is about d OP 0, so Estimate is
#   of left minus right. Hypothesis column = paste(h, OP, "0"), e.g. "(b_Days)-(10) < 0".
# - Estimate = mean(d), Est.Error = sd(d) (n - 1 denominator); with robust = TRUE,
#   Estimate = median(d), Est.Error = stats::mad(d) (centre median(d), constant 1.4826).
# - CI.Lower, CI.Upper = stats::quantile(d, probs) (type 7): probs = c(alpha, 1 - alpha) for one-sided
#   "<" and ">" (both bounds finite, i.e. a 90% interval at alpha = 0.05), and c(alpha/2, 1 - alpha/2)
#   for two-sided "=" (a 95% interval). robust does not change the CI.
# - Evid.Ratio: ">": k / (n - k) with k = #{d > 0}; "<": k / (n - k) with k = #{d < 0} (ties at 0 go
#   to the denominator; Inf when k = n, 0 when k = 0). "=": Savage-Dickey density ratio at 0 of
#   posterior over prior draws, which needs prior_* columns; there are none here, so NA.
# - Post.Prob = Evid.Ratio / (1 + Evid.Ratio) (= k / n for one-sided), set to 1 when Evid.Ratio is Inf;
#   NA for "=" here.
# - Star: one-sided: "*" if Post.Prob > 1 - alpha, else ""; two-sided: "*" if 0 lies outside
#   [CI.Lower, CI.Upper] (i.e. !(CI.Lower <= 0 && 0 <= CI.Upper)), else "".
# JSON layout: "source" (versions), "n_draws", and "hypotheses": an array of entries with the inputs
# (input, alpha, robust) and the table columns (Hypothesis, Estimate, Est.Error, CI.Lower, CI.Upper,
# Evid.Ratio, Post.Prob, Star). Non-finite numbers are written as the strings "NA", "NaN", "Inf",
# "-Inf"; finite numbers as JSON numbers at full precision.
# Run from tests/reference: Rscript hypothesis.R > hypothesis.json  (needs r-cran-brms, r-cran-jsonlite)
suppressMessages({library(brms); library(jsonlite)})
draws <- read.csv(file.path("data", "sleepstudy_draws.csv"))
cases <- list(
  list("b_Days > 0", 0.05, FALSE),
  list("b_Days < 10", 0.05, FALSE),
  list("b_Intercept + 10 * b_Days > 360", 0.05, FALSE),
  list("b_Days = 10", 0.05, FALSE),
  list("sd_Subject__Days - sigma / 3 < 0", 0.05, FALSE),
  list("b_Intercept / b_Days > 25", 0.05, FALSE),
  list("cor_Subject__Intercept__Days = 0", 0.05, FALSE),
  list("b_Days > 0", 0.1, FALSE),
  list("b_Intercept + 10 * b_Days > 360", 0.1, FALSE),
  list("b_Days > 0", 0.05, TRUE),
  list("b_Days = 10", 0.05, TRUE)
)
num <- function(v) {
  v <- as.numeric(v)
  if (is.na(v) && !is.nan(v)) "NA" else if (is.nan(v)) "NaN"
  else if (is.infinite(v)) (if (v > 0) "Inf" else "-Inf") else v
}
out <- list(source = paste("brms", packageVersion("brms"), paste0("(posterior ", packageVersion("posterior"), ")"),
                           "on R", getRversion(), "- hypothesis() on a data frame of draws"),
            n_draws = nrow(draws), hypotheses = list())
for (cs in cases) {
  h <- hypothesis(draws, cs[[1]], alpha = cs[[2]], robust = cs[[3]])$hypothesis
  stopifnot(nrow(h) == 1L)
  entry <- list(input = cs[[1]], alpha = cs[[2]], robust = cs[[3]], Hypothesis = as.character(h$Hypothesis))
  for (col in c("Estimate", "Est.Error", "CI.Lower", "CI.Upper", "Evid.Ratio", "Post.Prob"))
    entry[[col]] <- num(h[[col]])
  entry$Star <- as.character(h$Star)
  out$hypotheses[[length(out$hypotheses) + 1L]] <- entry
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
