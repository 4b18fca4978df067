# mice references for Rubin's rules (hx.pool_fits): mice::pool.scalar on hand-made inputs, and the
# pooled fixed effects of lmer fits to m = 5 multiply-imputed copies of mice::popmis.
# Run from /work/main:  Rscript tests/reference/rubin_pool.R > tests/reference/rubin_pool.json
# Needs r-cran-mice, r-cran-lme4 and r-cran-jsonlite (Debian packages). Run time: about 3 seconds.
# Side effect: (re)writes tests/reference/data/popmis_imputed.csv (deterministic for a given mice version).
#
# Rubin's rules as in mice (rule = "rubin1987"), for m estimates Q_l with squared standard errors U_l:
#   qbar = mean(Q), ubar = mean(U), b = var(Q) (denominator m - 1), t = ubar + (1 + 1/m) b,
#   r = riv = (1 + 1/m) b / ubar (relative increase in variance), lambda = (1 + 1/m) b / t,
#   df (mice:::barnard.rubin): lambda is first floored at 1e-4 (lambda[lambda < 1e-4] <- 1e-4), then
#     dfold = (m - 1) / lambda^2                                  (Rubin 1987, large-sample df)
#     dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lambda)     (Barnard & Rubin 1999)
#     df = dfold if dfcom is infinite, else dfold * dfobs / (dfold + dfobs)
#   with dfcom = n - k in pool.scalar (n = Inf by default, k = 1 by default),
#   fmi = (r + 2 / (df + 3)) / (r + 1).
#
# JSON:
#   source: package versions.
#   pool_scalar.cases[]: name; inputs Q, U, n, k (n = "Inf" (a string) for the default n = Inf);
#     every field returned by mice::pool.scalar(Q, U, n, k): m, qhat (= Q), u (= U), qbar, ubar, b, t, df,
#     r, fmi; plus dfcom = n - k ("Inf" when infinite) and lambda = (1 + 1/m) b / t (computed here,
#     pool.scalar does not return it; NOT floored at 1e-4, the floor only enters df).
#     Cases: n50_k2 (n = 50, k = 2), default_n (same Q, U, n = Inf), m2 (m = 2, n = 30, k = 3),
#     b_zero (identical Q so b = 0, lambda floored at 1e-4 inside df; n = 100, k = 1), b_zero_inf (same, n = Inf).
#   popmis: mice::popmis (2000 pupils in 100 schools; popular has 848 NA).
#     imputation: mice(popmis, m = 5, method "pmm" for popular only (predictive mean matching, single-level,
#       donors = 5 default), predictors of popular: sex, texp, teachpop (predictorMatrix all 0 otherwise;
#       school, pupil, const are not predictors), seed = 123, printFlag = FALSE). The completed data sets
#       (complete(imp, "long")) are written to tests/reference/data/popmis_imputed.csv with columns .imp (1..5),
#       pupil, school, popular, sex, texp (all integers, 5 x 2000 rows, ordered by .imp then original row);
#       the fits below are done on that CSV as read back.
#     fits[] (one per imputation, in .imp order), lmer(popular ~ sex + texp + (1 | school), REML = TRUE,
#       control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.2, rhoend = 1e-10))):
#       imp; terms ("(Intercept)", "sex", "texp"); estimate = fixef; se = sqrt(diag(vcov)) (REML vcov);
#       sigma (residual sd); sd_school (random-intercept sd); theta = sd_school / sigma;
#       reml_criterion = REMLcrit (= -2 * restricted log-likelihood); logLik (REML); nobs; df_residual =
#       df.residual(fit) = nobs - npar = 2000 - (3 fixed + 1 theta + 1 sigma) = 1995.
#     pooled: Rubin's rules per coefficient (arrays in term order). dfcom = 1995 = df.residual of the lmer fit,
#       which is what mice::pool uses for merMod fits with broom.mixed installed (mice:::get.dfcom takes
#       glance()$df.residual; broom.mixed's glance.merMod gives df.residual(fit)). broom.mixed is not
#       installed here, so the numbers are computed with pool.scalar(Q, U, n = nobs, k = nobs - dfcom) per
#       coefficient, and cross-checked against mice::pool(as.mira(fits)) with a minimal tidy/glance shim
#       registered for lmerMod (max_abs_diff_vs_mice_pool). Fields: term, m, estimate (qbar), ubar, b, t,
#       dfcom, df, riv (r), lambda, fmi, se = sqrt(t), qt975 = qt(0.975, df), ci_lb/ci_ub = qbar -/+ qt975 * se.
#     pooled_large_sample: the same with pool.scalar(Q, U) (n = Inf, dfcom = Inf: df = dfold = (m - 1) / lambda^2).
suppressMessages({library(mice); library(lme4); library(jsonlite)})

inf_str <- function(x) if (is.infinite(x)) "Inf" else x

# ---- 1. pool.scalar cases ----
ps_case <- function(name, Q, U, n = Inf, k = 1) {
  p <- pool.scalar(Q, U, n = n, k = k)
  c(list(name = name, inputs = list(Q = Q, U = U, n = inf_str(n), k = k)),
    p, list(dfcom = inf_str(n - k), lambda = (1 + 1 / p$m) * p$b / p$t))
}
Q1 <- c(1.2, 1.5, 0.9, 1.1, 1.4); U1 <- c(0.04, 0.05, 0.045, 0.038, 0.052)
cases <- list(
  ps_case("n50_k2", Q1, U1, n = 50, k = 2),
  ps_case("default_n", Q1, U1),
  ps_case("m2", c(-0.35, -0.52), c(0.021, 0.026), n = 30, k = 3),
  ps_case("b_zero", c(2.5, 2.5, 2.5, 2.5), c(0.09, 0.1, 0.11, 0.1), n = 100, k = 1),
  ps_case("b_zero_inf", c(2.5, 2.5, 2.5, 2.5), c(0.09, 0.1, 0.11, 0.1))
)

# ---- 2. popmis: impute, write CSV, fit, pool ----
pred <- make.predictorMatrix(popmis); pred[, ] <- 0
pred["popular", c("sex", "texp", "teachpop")] <- 1
meth <- make.method(popmis); meth[] <- ""; meth["popular"] <- "pmm"
imp <- mice(popmis, m = 5, method = meth, predictorMatrix = pred, seed = 123, printFlag = FALSE)
long <- complete(imp, "long")[, c(".imp", "pupil", "school", "popular", "sex", "texp")]
csv <- file.path("tests", "reference", "data", "popmis_imputed.csv")
write.table(long, csv, sep = ",", quote = FALSE, row.names = FALSE)
d <- read.csv(csv, check.names = FALSE)
stopifnot(nrow(d) == 10000, !anyNA(d), all(as.matrix(d) == as.matrix(long)))

ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.2, rhoend = 1e-10))
fits <- lapply(1:5, function(i)
  lmer(popular ~ sex + texp + (1 | school), data = d[d$.imp == i, ], REML = TRUE, control = ctrl))
fit_json <- lapply(1:5, function(i) {
  f <- fits[[i]]; vc <- as.data.frame(VarCorr(f))
  list(imp = i, terms = names(fixef(f)), estimate = unname(fixef(f)), se = unname(sqrt(diag(vcov(f)))),
       sigma = sigma(f), sd_school = vc$sdcor[vc$grp == "school"], theta = unname(getME(f, "theta")),
       reml_criterion = unname(REMLcrit(f)), logLik = as.numeric(logLik(f)), nobs = nobs(f),
       df_residual = df.residual(f))
})
terms <- names(fixef(fits[[1]]))
Qm <- sapply(fits, fixef); Um <- sapply(fits, function(f) diag(as.matrix(vcov(f))))  # terms x m
nobs1 <- nobs(fits[[1]]); dfcom <- df.residual(fits[[1]])

pool_terms <- function(n, k) {
  rows <- lapply(seq_along(terms), function(j) {
    p <- pool.scalar(Qm[j, ], Um[j, ], n = n, k = k)
    lam <- (1 + 1 / p$m) * p$b / p$t; q <- qt(0.975, p$df)
    data.frame(term = terms[j], m = p$m, estimate = p$qbar, ubar = p$ubar, b = p$b, t = p$t,
               dfcom = n - k, df = p$df, riv = p$r, lambda = lam, fmi = p$fmi, se = sqrt(p$t),
               qt975 = q, ci_lb = p$qbar - q * sqrt(p$t), ci_ub = p$qbar + q * sqrt(p$t))
  })
  do.call(rbind, rows)
}
pooled <- pool_terms(nobs1, nobs1 - dfcom)
pooled_inf <- pool_terms(Inf, 1)

# cross-check with mice::pool through a minimal tidy/glance shim (what broom.mixed would supply)
registerS3method("tidy", "lmerMod", function(x, ...)
  data.frame(term = names(fixef(x)), estimate = unname(fixef(x)), std.error = unname(sqrt(diag(vcov(x))))),
  envir = asNamespace("generics"))
registerS3method("glance", "lmerMod", function(x, ...)
  data.frame(nobs = nobs(x), sigma = sigma(x), df.residual = df.residual(x)), envir = asNamespace("generics"))
mp <- pool(as.mira(fits))$pooled
cols <- c("estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi")
chk <- max(abs(as.matrix(mp[, cols]) - as.matrix(pooled[, cols])))
stopifnot(chk < 1e-10, all(as.character(mp$term) == terms))

to_list <- function(df) { l <- as.list(df); l$dfcom <- inf_str(df$dfcom[1]); l }
cat(toJSON(list(
  source = paste("mice", packageVersion("mice"), "lme4", packageVersion("lme4"), "on R", getRversion()),
  pool_scalar = list(rule = "rubin1987", cases = cases),
  popmis = list(
    data = "tests/reference/data/popmis_imputed.csv",
    imputation = list(package = "mice", m = 5, method = "pmm", imputed = "popular",
                      predictors = c("sex", "texp", "teachpop"), seed = 123, n_missing = sum(is.na(popmis$popular))),
    model = "lmer(popular ~ sex + texp + (1 | school), REML = TRUE), bobyqa rhobeg = 0.2, rhoend = 1e-10",
    fits = fit_json,
    pooled = c(to_list(pooled), list(dfcom_source = "df.residual(lmerMod) = nobs - npar = 2000 - 5 (broom.mixed glance, as mice::pool)",
                                     max_abs_diff_vs_mice_pool = chk)),
    pooled_large_sample = to_list(pooled_inf)
  )
), digits = NA, auto_unbox = TRUE, pretty = TRUE))
