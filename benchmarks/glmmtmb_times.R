# Seconds per glmmTMB Laplace fit of families.py's data sets, measured in this run: one untimed fit,
# then the mean of N timed refits (R start-up and package loading excluded).
# Usage: Rscript benchmarks/glmmtmb_times.R N DIR model ...   (reads DIR/<model>.csv with columns
# y, x, g; a model named negbinomial* is fitted with nbinom2, beta* with beta_family(); prints one
# JSON object: per model seconds, every time, logLik, fixed effects, the group sd and the family's
# dispersion: nbinom2's theta = hierax's shape, beta_family's phi)
suppressMessages({library(glmmTMB); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
repeats <- as.integer(args[1])
dir <- args[2]
out <- list(version = as.character(packageVersion("glmmTMB")))
for (name in args[-(1:2)]) {
  d <- read.csv(file.path(dir, paste0(name, ".csv")))
  d$g <- factor(d$g)
  family <- if (startsWith(name, "negbinomial")) nbinom2() else beta_family()
  fit <- glmmTMB(y ~ x + (1 | g), data = d, family = family)
  times <- replicate(repeats, system.time(glmmTMB(y ~ x + (1 | g), data = d, family = family))[["elapsed"]])
  fe <- fixef(fit)$cond
  out[[name]] <- list(seconds = mean(times), times = times, loglik = as.numeric(logLik(fit)),
                      Intercept = unname(fe[1]), x = unname(fe[2]),
                      sd = unname(attr(VarCorr(fit)$cond$g, "stddev")), dispersion = sigma(fit),
                      convergence = fit$fit$convergence)
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
