# lme4's cbpp fit with PIRLS run to convergence (tolPwrss = 1e-12 instead of the default 1e-7).
# With the default, lme4's Laplace log-likelihood for cbpp is off by 2.8e-4 (the reference
# ../shared/reference/lme4.json has that value); this script records the converged fit.
# Run: Rscript tests/reference/cbpp_tight.R > tests/reference/cbpp_tight.json  (needs r-cran-lme4)
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv(file.path("..", "shared", "data", "teaching", "cbpp.csv"))
d$period <- factor(d$period); d$herd <- factor(d$herd)
m <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d, family = binomial,
           control = glmerControl(tolPwrss = 1e-12))
re <- as.data.frame(ranef(m, condVar = TRUE))
cat(toJSON(list(
  source = paste("lme4", packageVersion("lme4"), "on R", getRversion(), "tolPwrss = 1e-12"),
  logLik = as.numeric(logLik(m)), theta = unname(getME(m, "theta")),
  fixef = list(names = names(fixef(m)), estimate = unname(fixef(m)), se = unname(sqrt(diag(vcov(m))))),
  ranef = list(level = as.character(re$grp), mode = re$condval, cond_sd = re$condsd)
), digits = NA, auto_unbox = TRUE, pretty = TRUE))
