# metafor references for meta-analysis with known sampling variances (no Stan): the BCG vaccine
# trials (metafor::dat.bcg, 13 trials), log risk ratios yi with sampling variances vi.
# Run from /work/main:  Rscript tests/reference/meta_bcg.R > tests/reference/meta_bcg.json
# Needs r-cran-metafor and r-cran-jsonlite (Debian packages). Run time: about 2 seconds.
#
# Data: tests/reference/data/bcg.csv, written once from R as
#   escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
#   (yi = log(tpos/(tpos+tneg)) - log(cpos/(cpos+cneg)), vi = 1/tpos - 1/(tpos+tneg) + 1/cpos - 1/(cpos+cneg)),
#   sei = sqrt(vi); columns trial, author, year, ablat, tpos, tneg, cpos, cneg, yi, vi, sei.
#   This script reads the CSV (not dat.bcg), so the numbers below are for the CSV's values.
# Fits (all with control = list(threshold = 1e-10, maxiter = 1000): the Fisher-scoring iterations for
#   ML/REML stop when the change in tau2 is below 1e-10, metafor's default being 1e-5 / 100 steps):
#   FE:         rma(yi, vi, method = "FE")              yi_i ~ normal(mu, sqrt(vi_i))
#   REML, ML:   rma(yi, vi, method = "REML" / "ML")     yi_i ~ normal(mu, sqrt(vi_i + tau2))
#   REML_ablat: rma(yi, vi, mods = ~ ablat, method = "REML")
#               yi_i ~ normal(b_Intercept + b_ablat*ablat_i, sqrt(vi_i + tau2)), ablat uncentred
# Numbers written per fit: coefficient names (brms-style: Intercept, ablat), estimate, se (Wald, from the
#   inverse Fisher information of the coefficients at the estimated tau2: (X' W X)^-1, W = diag(1/(vi + tau2))),
#   z, p (two-sided normal), ci_lb/ci_ub (95% Wald), tau2, se_tau2 (metafor's, from the Fisher information
#   of tau2), tau = sqrt(tau2), tau2 95% CI by the Q-profile method (confint), logLik as reported by
#   metafor (ML fits: the full normal log-likelihood; REML: the restricted log-likelihood
#   -1/2 [ (k-p) log(2 pi) - log|X'X| + sum log(vi + tau2) + log|X'WX| + RSS_W ], i.e. INCLUDING the
#   +1/2 log|X'X| term; both recomputed by hand below and checked), deviance, AIC/BIC as metafor,
#   Q (Cochran's QE), I2 (%), H2, tau2_by_optimize (tau2 maximising the hand-written ML/REML
#   log-likelihood by optimize(tol = 1e-12), a check on metafor's tau2), and for ML/REML the BLUPs of
#   the trial effects u_i (ranef: pred = BLUP of u_i, se). The Q-profile CI does not depend on ML vs REML.
# brms-style formulas: FE = `yi | se(sei) ~ 1`; random effects = `yi | se(sei) ~ 1 + (1 | trial)`,
#   equivalently `yi | se(sei, sigma = TRUE) ~ 1` (one row per trial, so the extra residual sd is tau).
suppressMessages({library(metafor); library(jsonlite)})
d <- read.csv(file.path("tests", "reference", "data", "bcg.csv"))
ctrl <- list(threshold = 1e-10, maxiter = 1000)

ll_by_hand <- function(tau2, X) {
  w <- 1 / (d$vi + tau2); k <- nrow(X); p <- ncol(X)
  XtWX <- crossprod(X, w * X); b <- solve(XtWX, crossprod(X, w * d$yi))
  rss <- sum(w * (d$yi - X %*% b)^2)
  ml <- -0.5 * (k * log(2 * pi) + sum(log(d$vi + tau2)) + rss)
  reml <- -0.5 * ((k - p) * log(2 * pi) - determinant(crossprod(X))$modulus +
                  sum(log(d$vi + tau2)) + determinant(XtWX)$modulus + rss)
  c(ML = ml, REML = as.numeric(reml))
}

fits <- list(
  FE = list(call = 'rma(yi, vi, data = d, method = "FE")', mods = NULL, method = "FE",
            brms = "yi | se(sei) ~ 1",
            model = "yi_i ~ normal(mu, sqrt(vi_i)), vi_i known; mu = b_Intercept (fixed/common effect, no extra sd)"),
  REML = list(call = 'rma(yi, vi, data = d, method = "REML")', mods = NULL, method = "REML",
              brms = "yi | se(sei) ~ 1 + (1 | trial)  ==  yi | se(sei, sigma = TRUE) ~ 1",
              model = "yi_i ~ normal(mu, sqrt(vi_i + tau2)), i.e. yi_i = mu + u_i + e_i, u_i ~ N(0, tau2), e_i ~ N(0, vi_i); tau2 by REML"),
  ML = list(call = 'rma(yi, vi, data = d, method = "ML")', mods = NULL, method = "ML",
            brms = "yi | se(sei) ~ 1 + (1 | trial)  ==  yi | se(sei, sigma = TRUE) ~ 1",
            model = "yi_i ~ normal(mu, sqrt(vi_i + tau2)); tau2 and mu by maximum likelihood"),
  REML_ablat = list(call = 'rma(yi, vi, mods = ~ ablat, data = d, method = "REML")', mods = ~ ablat,
                    method = "REML",
                    brms = "yi | se(sei) ~ 1 + ablat + (1 | trial)  ==  yi | se(sei, sigma = TRUE) ~ ablat",
                    model = "yi_i ~ normal(b_Intercept + b_ablat*ablat_i, sqrt(vi_i + tau2)), ablat uncentred (degrees); tau2 by REML (residual heterogeneity)")
)

one <- function(f) {
  m <- if (is.null(f$mods)) rma(yi, vi, data = d, method = f$method, control = ctrl)
       else rma(yi, vi, mods = f$mods, data = d, method = f$method, control = ctrl)
  X <- m$X
  hand <- ll_by_hand(m$tau2, X)
  # independent check of tau2: maximise the hand-written (restricted) log-likelihood with optimize()
  tau2_opt <- if (f$method == "FE") 0 else
    optimize(function(t2) ll_by_hand(t2, X)[[f$method]], c(0, 5), maximum = TRUE, tol = 1e-12)$maximum
  stopifnot(abs(tau2_opt - m$tau2) < 1e-6)
  ll <- as.numeric(logLik(m))
  ll_check <- if (f$method == "REML") hand[["REML"]] else hand[["ML"]]
  stopifnot(abs(ll - ll_check) < 1e-8)
  nm <- sub("^intrcpt$", "Intercept", rownames(m$beta))
  res <- list(
    call = f$call, method = f$method, brms_formula = f$brms, model = f$model,
    k = m$k, p = m$p,
    coef = lapply(list(names = nm, estimate = as.numeric(m$beta), se = as.numeric(m$se),
                       z = as.numeric(m$zval), p = as.numeric(m$pval),
                       ci_lb = as.numeric(m$ci.lb), ci_ub = as.numeric(m$ci.ub)), I),  # I(): always arrays
    vcov = unname(vcov(m)),
    tau2 = m$tau2, tau2_by_optimize = if (f$method == "FE") NULL else tau2_opt,
    se_tau2 = if (f$method == "FE") NULL else m$se.tau2, tau = sqrt(m$tau2),
    logLik = ll, logLik_ML_by_hand = hand[["ML"]], logLik_REML_by_hand = hand[["REML"]],
    deviance = as.numeric(deviance(m)),  # metafor: -2 (logLik - logLik of the saturated model)
    AIC = AIC(m), BIC = BIC(m),
    QE = m$QE, QE_df = m$k - m$p, QE_p = m$QEp,
    I2 = if (f$method == "FE") NULL else m$I2, H2 = if (f$method == "FE") NULL else m$H2)
  if (f$method != "FE") {
    ci <- confint(m)$random
    res$tau2_ci_qprofile <- list(lb = ci["tau^2", "ci.lb"], ub = ci["tau^2", "ci.ub"])
    re <- ranef(m)
    res$ranef <- list(trial = d$trial, pred = as.numeric(re$pred), se = as.numeric(re$se))
  }
  res
}

out <- lapply(fits, one)
cat(toJSON(list(
  source = paste("metafor", packageVersion("metafor"), "on R", getRversion(), "; Debian packages"),
  data_file = "tests/reference/data/bcg.csv",
  yi = "log risk ratio, escalc(measure = 'RR', ai = tpos, bi = tneg, ci = cpos, di = cneg); vi its sampling variance; sei = sqrt(vi)",
  control = "control = list(threshold = 1e-10, maxiter = 1000) (Fisher scoring for tau2, stop when |change in tau2| < 1e-10)",
  logLik_note = "logLik as metafor: ML/FE = full normal log-likelihood; REML = restricted log-likelihood including +1/2 log|X'X| (see header of meta_bcg.R)",
  fits = out
), digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"))
