# Seconds per lmer() REML fit, measured in this run: one untimed fit, then the median of N.
# Usage: Rscript benchmarks/lme4_times.R N   (reads ../shared/data; prints one JSON object)
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
out <- list(version = as.character(packageVersion("lme4")))
for (name in names(models)) {
  m <- models[[name]]
  d <- read.csv(file.path(data_dir, m[[2]]))
  for (f in m[[3]]) d[[f]] <- factor(d[[f]])
  fit <- lmer(m[[1]], data = d, REML = TRUE)
  times <- replicate(repeats, system.time(lmer(m[[1]], data = d, REML = TRUE))[["elapsed"]])
  out[[name]] <- list(seconds = median(times), reml = as.numeric(REMLcrit(fit)))
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
