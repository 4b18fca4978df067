# brms (Stan) on one suite model, at brms's defaults but for the suite's priors: 4 chains x 1000
# warm-up + 1000 draws, chains in parallel, compilation of the Stan model included in the time.
# Usage: Rscript brms_run.R MODEL OUT_PREFIX SEED DATA_CSV
# Writes OUT_PREFIX.csv (one column per parameter, plus .chain) and OUT_PREFIX.json (meta).
suppressPackageStartupMessages(library(brms))
args <- commandArgs(trailingOnly = TRUE)
model <- args[1]; out <- args[2]; seed <- as.integer(args[3]); data <- read.csv(args[4])
spec <- list(
  radon_intercepts = list(f = log_radon ~ floor + (1 | county), family = gaussian(), p = c(10, 10, 1, 1), cor = FALSE),
  radon_slopes = list(f = log_radon ~ floor + (1 + floor | county), family = gaussian(), p = c(10, 10, 1, 1), cor = TRUE),
  sleepstudy = list(f = Reaction ~ Days + (Days | Subject), family = gaussian(), p = c(500, 50, 50, 50), cor = TRUE),
  cbpp = list(f = incidence | trials(size) ~ period + (1 | herd), family = binomial(), p = c(5, 5, 1, NA), cor = FALSE),
  grouseticks = list(f = TICKS ~ YEAR + cHEIGHT + (1 | INDEX) + (1 | BROOD) + (1 | LOCATION),
                     family = poisson(), p = c(5, 5, 1, NA), cor = FALSE),
  large_100k = list(f = y ~ x + (1 + x | g), family = gaussian(), p = c(10, 10, 1, 1), cor = TRUE),
  large_1m = list(f = y ~ x + (1 + x | g), family = gaussian(), p = c(10, 10, 1, 1), cor = TRUE)
)[[model]]
for (column in c("period", "YEAR", "INDEX", "BROOD", "LOCATION", "herd", "Subject", "county", "g")) {
  if (column %in% names(data)) data[[column]] <- factor(data[[column]])
}
priors <- c(set_prior(sprintf("normal(0, %g)", spec$p[1]), class = "Intercept"),
            set_prior(sprintf("normal(0, %g)", spec$p[2]), class = "b"),
            set_prior(sprintf("normal(0, %g)", spec$p[3]), class = "sd"))
if (spec$cor) priors <- c(priors, set_prior("lkj(2)", class = "cor"))
if (!is.na(spec$p[4])) priors <- c(priors, set_prior(sprintf("normal(0, %g)", spec$p[4]), class = "sigma"))
start <- Sys.time()
fit <- brm(spec$f, data = data, family = spec$family, prior = priors, chains = 4, iter = 2000, warmup = 1000,
           cores = parallel::detectCores(), seed = seed, refresh = 0, silent = 2)
draws <- as_draws_df(fit)
seconds <- as.numeric(difftime(Sys.time(), start, units = "secs"))
keep <- grepl("^(b_|sd_|cor_|sigma$|r_)", names(draws))
table <- as.data.frame(draws)[, keep]
table$.chain <- draws$.chain
write.csv(table, paste0(out, ".csv"), row.names = FALSE)
divergent <- sum(subset(nuts_params(fit), Parameter == "divergent__")$Value)
writeLines(sprintf('{"seconds": %f, "divergences": %d, "versions": {"brms": "%s"}, "note": "Stan compilation included"}',
                   seconds, as.integer(divergent), as.character(packageVersion("brms"))), paste0(out, ".json"))
