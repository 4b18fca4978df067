# Seconds per lmer() REML fit and per glmer() Laplace fit (nAGQ = 1, lme4's defaults), measured in
# this run: one untimed fit, then the median of N.
# Usage: Rscript benchmarks/lme4_times.R N [model ...]   (reads ../shared/data; prints one JSON object;
# all models unless some are named)
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
repeats <- if (length(args)) as.integer(args[1]) else 5
data_dir <- file.path("..", "shared", "data")
models <- list(
  "sleepstudy" = list(Reaction ~ Days + (Days | Subject), "teaching/sleepstudy.csv", character()),
  "radon slopes" = list(log_radon ~ floor + (1 + floor | county), "radon_mn.csv", character()),
  "InstEval" = list(y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept), "teaching/InstEval.csv",
                    c("service", "s", "d", "dept"))
)
glmms <- list(
  "cbpp" = list(cbind(incidence, size - incidence) ~ period + (1 | herd), "teaching/cbpp.csv",
                c("period", "herd"), binomial),
  "grouseticks" = list(TICKS ~ YEAR + cHEIGHT + (1 | INDEX) + (1 | BROOD) + (1 | LOCATION),
                       "teaching/grouseticks.csv", c("YEAR", "INDEX", "BROOD", "LOCATION"), poisson),
  # r2 as a factor with levels N < Y: glmer counts "Y" as the success, hierax's r2 coded 1 for "Y"
  "VerbAgg" = list(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), "teaching/VerbAgg.csv",
                   c("r2", "Gender", "btype", "situ", "id", "item"), binomial)
)
wanted <- if (length(args) > 1) args[-1] else c(names(models), names(glmms))
models <- models[names(models) %in% wanted]
glmms <- glmms[names(glmms) %in% wanted]
out <- list(version = as.character(packageVersion("lme4")))
for (name in names(models)) {
  m <- models[[name]]
  d <- read.csv(file.path(data_dir, m[[2]]))
  for (f in m[[3]]) d[[f]] <- factor(d[[f]])
  fit <- lmer(m[[1]], data = d, REML = TRUE)
  times <- replicate(repeats, system.time(lmer(m[[1]], data = d, REML = TRUE))[["elapsed"]])
  out[[name]] <- list(seconds = median(times), reml = as.numeric(REMLcrit(fit)))
}
for (name in names(glmms)) {
  m <- glmms[[name]]
  d <- read.csv(file.path(data_dir, m[[2]]))
  for (f in m[[3]]) d[[f]] <- factor(d[[f]])
  fit <- glmer(m[[1]], data = d, family = m[[4]])
  times <- replicate(repeats, system.time(glmer(m[[1]], data = d, family = m[[4]]))[["elapsed"]])
  out[[name]] <- list(seconds = median(times), loglik = as.numeric(logLik(fit)))
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
