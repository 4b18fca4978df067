# Seconds per glmer() Laplace fit (nAGQ = 1) of laplace_scale.py's models, measured in this run
# (R start-up, package loading and reading the CSV excluded), under two controls:
# - converged: bobyqa with maxfun 1e5 and PIRLS to tolPwrss = 1e-12 (as tests/reference/cbpp_tight.R).
#   This is the log-likelihood a fast answer must match: at glmer's default tolPwrss = 1e-7 the
#   log-likelihood stops short (on laplace_scale.py's model a by 0.63, b by 0.011, VerbAgg by 3.9e-4).
#   One untimed fit, then the mean of N timed refits.
# - default: glmerControl() as a user gets it (bobyqa then Nelder-Mead, tolPwrss = 1e-7), often much
#   faster (VerbAgg 1.7 s against 11 s), so a speed ratio against the converged fit alone would flatter
#   hierax. Again one untimed fit, then the mean of N timed refits.
# Usage: Rscript benchmarks/glmer_scale.R CSV MODEL N   (MODEL: a, b or c, see laplace_scale.py;
# prints one JSON object: the converged fit's seconds, times, logLik, fixed effects, sds and
# correlations keyed "group term" / "group cor(term1,term2)", singularity, the optimiser's code and
# evaluations and every convergence message and warning; under "default" the same for that control)
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]
name <- args[2]
repeats <- as.integer(args[3])
models <- list(
  a = list(y ~ x + (1 + x | g), binomial, "g"),
  b = list(y ~ x + (1 | obs) + (1 | site), poisson, c("obs", "site")),
  c = list(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), binomial,
           c("id", "item", "Gender", "btype", "situ"))
)
m <- models[[name]]
d <- read.csv(csv)
for (f in m[[3]]) d[[f]] <- factor(d[[f]])
once <- function(control) glmer(m[[1]], data = d, family = m[[2]], nAGQ = 1, control = control)

# fit once under `control`, keeping its warnings, then time `timed` refits; summarise the first fit
measure <- function(control, timed) {
  warned <- character()
  fit <- withCallingHandlers(once(control), warning = function(w) {
    warned <<- c(warned, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  times <- replicate(timed, system.time(suppressWarnings(once(control)))[["elapsed"]])
  vc <- as.data.frame(VarCorr(fit))
  key <- ifelse(is.na(vc$var2), paste(vc$grp, vc$var1), paste0(vc$grp, " cor(", vc$var1, ",", vc$var2, ")"))
  info <- fit@optinfo
  list(seconds = mean(times), times = I(times), loglik = as.numeric(logLik(fit)), fixef = as.list(fixef(fit)),
       sds = as.list(setNames(vc$sdcor, key)), singular = isSingular(fit),
       optimiser = list(code = info$conv$opt, evaluations = info$feval),
       messages = I(as.character(unique(unlist(c(info$conv$lme4$messages, info$warnings, warned))))))
}

converged <- measure(glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(maxfun = 1e5)), repeats)
default <- measure(glmerControl(), repeats)
out <- c(list(version = as.character(packageVersion("lme4"))), converged, list(default = default))
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
