# Variance decomposition (ICC, Nakagawa R2, insight's variance components) for the families beyond
# gaussian / binomial / poisson (those are in variance_decomposition.R): negative binomial, Gamma,
# beta, lognormal and cumulative (ordinal), for hierax's tests/results/test_variance_families.py.
#
# Models (glmmTMB Laplace, run to convergence: nlminb rel.tol 1e-12 then Newton steps on the
# Laplace objective until max |gradient| < 1e-9, as glmmtmb_families.R; lmer with nloptwrap at
# xtol/ftol 1e-12/1e-14; glmer.nb with bobyqa, maxfun 1e5):
# 1. nbinom2_epil:        y ~ trt + lbase + (1 | subject), glmmTMB nbinom2 (log)   (data/epil.csv;
#                         trt a factor, reference "placebo"; subject a factor, 59 levels)
# 2. nbinom2_grouseticks: TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), glmmTMB nbinom2 (log)
#                         (shared/data/teaching/grouseticks.csv; YEAR, BROOD, LOCATION factors)
# 3. glmer_nb_epil:       model 1 by lme4::glmer.nb (recorded to show that lme4's route uses the same
#                         formula with theta = getME(m, "glmer.nb.theta"). Its estimates are not
#                         glmmTMB's (intercept 1.8073 against 1.8202, theta 7.1838 against 7.1860,
#                         logLik -627.616 against -627.686: the two do not maximise the same objective),
#                         so hierax's fit, which agrees with glmmTMB's to 1e-9, is compared with model 1
#                         and only the formula is checked here, at this fit's own values.
#                         Its null model differs from glmmTMB's too: glmer.nb leaves the call
#                         glmer(..., family = negative.binomial(theta = <estimate>)), so insight's update()
#                         refits the null model with theta held at the full model's value (recorded), and
#                         family(m)$family, "Negative Binomial(7.1838)", takes insight's default branch,
#                         .variance_family_default: mu (1 + mu/getME(m, "glmer.nb.theta")), the same formula
# 4. gamma_sleepstudy:    Reaction ~ Days + (1 | Subject), glmmTMB Gamma(link = "log")
#                         (shared/data/teaching/sleepstudy.csv; Subject a factor)
# 5. beta_gasoline:       yield ~ ctemp + (1 | batch), glmmTMB beta_family(link = "logit")
#                         (data/GasolineYield.csv; ctemp = (temp - 300)/100; batch a factor, 10 levels)
#                         (recorded for the record: hierax refuses the beta, because insight 0.19.0 takes exp() of
#                         the null model's logit intercept as its mean, which its later versions revise)
# 6. lognormal_sleepstudy: lme4::lmer(log(Reaction) ~ Days + (1 | Subject), REML = FALSE): a gaussian
#                         model of log(y), which is brms's / hierax's lognormal (meanlog = eta,
#                         sdlog = sigma) fitted by maximum likelihood (glmmTMB 1.1.5 has no lognormal)
# 7. cumulative_logit_wine, cumulative_probit_wine: ordinal::clmm(rating ~ temp + contact + (1 | judge),
#                         link = "logit" / "probit") (data/wine.csv; rating ordered 1..5, temp and contact
#                         factors, references cold / no; judge a factor, 9 levels), nlminb rel.tol 1e-14,
#                         gradTol 1e-12 as clmm_wine.R (without its Newton polish); "fixef" is clmm's beta
#                         (no intercept: the thresholds, recorded, take its place; insight gives clmm's
#                         X beta a constant intercept of 1, which does not change its variance)
#
# Parametrisation ("hierax" below, brms's names):
#   fixef: names and estimates (R's names: trtprogabide, YEAR96, ...); sds: the group sds by grouping
#   factor; family: the dispersion as brms names it:
#     nbinom2:  var = mu + mu^2/theta, theta = exp(betad) = sigma(m)  -> brms/hierax "shape"
#     Gamma:    var = mu^2/shape, shape = exp(betad) = 1/sigma(m)^2  -> "shape"
#     beta:     Beta(mu*phi, (1-mu)*phi), phi = exp(betad) = sigma(m) -> "phi"
#     lognormal: sdlog = sigma(lmer)                                  -> "sigma"
#   glmer.nb: theta = getME(m, "glmer.nb.theta") -> "shape".
#
# Variance decomposition, insight 0.19.0 (read from insight:::.compute_variance_distribution,
# insight:::.variance_distributional, insight:::.variance_family_nbinom, insight:::.variance_family_beta,
# insight:::.null_model_mixed):
#   var.fixed = var(X beta) (n - 1 denominator); var.random = sum over grouping factors of
#   mean_i z_i' Sigma_g z_i (intercepts only here: the sum of the intercept variances);
#   var.residual = var.distribution + var.dispersion (var.dispersion = 0: no observation-level effects);
#   sig = attr(VarCorr(m), "sc") = sigma(m) of the FULL model (glmmTMB: theta for nbinom2, 1/sqrt(shape)
#   for Gamma, phi for beta; 1 for glmer.nb, whose own family object carries theta);
#   null model = update(m, y ~ <the same random terms>) (same family and control; it estimates its own
#   dispersion, which is NOT used); b0 = its intercept; mu = exp(b0) for every family (for beta too,
#   although its link is the logit: insight 0.19.0 does not apply the inverse link);
#   var.distribution:
#   - nbinom2 / glmer.nb, log link: log1p(V(mu)/mu^2) with V = family(m)$variance(mu, theta) =
#     mu + mu^2/theta, theta the FULL model's: log1p(1/mu + 1/theta) (lognormal approximation);
#   - Gamma, log link: family(m)$variance(sig) = sig^2 = 1/shape (full model; no null model, no log1p);
#   - beta, logit link: log1p(V/mu^2), V = mu (1 - mu)/(1 + phi), phi the FULL model's, mu = exp(b0);
#   - gaussian (model 6): sigma^2;
#   - clmm (model 7): pi^2/3 (logit), 1 (probit), the binomial family's values (the latent logistic or
#     normal residual).
#   performance::icc: ICC_adjusted = var.random / (var.random + var.residual); ICC_unadjusted =
#   var.random / (var.fixed + var.random + var.residual); performance::r2_nakagawa: R2_marginal =
#   var.fixed / total, R2_conditional = (var.fixed + var.random) / total. "null_model" records the
#   refit (intercept, its own dispersion, mu = exp(intercept)) and "var_distribution_by_hand" the
#   formula evaluated from the recorded numbers (equal to var.distribution).
# "warnings" collect R warnings of each call (insight warns "mu of ... is too close to zero" below 6).
# Reproducible: rerunning gives identical output.
# Run from tests/reference: Rscript variance_families.R > variance_families.json
# (needs r-cran-glmmtmb, r-cran-lme4, r-cran-ordinal, r-cran-performance, r-cran-insight, r-cran-jsonlite)
suppressMessages({library(glmmTMB); library(lme4); library(performance); library(insight); library(ordinal)
  library(jsonlite)})
teach <- function(f) read.csv(file.path("..", "..", "..", "shared", "data", "teaching", f))
sleep <- teach("sleepstudy.csv"); sleep$Subject <- factor(sleep$Subject)
grouse <- teach("grouseticks.csv")
grouse$YEAR <- factor(grouse$YEAR); grouse$BROOD <- factor(grouse$BROOD); grouse$LOCATION <- factor(grouse$LOCATION)
epil <- read.csv(file.path("data", "epil.csv"))
epil$trt <- factor(epil$trt, levels = c("placebo", "progabide")); epil$subject <- factor(epil$subject)
gas <- read.csv(file.path("data", "GasolineYield.csv")); gas$batch <- factor(gas$batch)
wine <- read.csv(file.path("data", "wine.csv"))
wine$rating <- factor(wine$rating, levels = 1:5, ordered = TRUE); wine$judge <- factor(wine$judge)
wine$temp <- factor(wine$temp, levels = c("cold", "warm")); wine$contact <- factor(wine$contact, levels = c("no", "yes"))

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
ctl <- glmmTMBControl(optimizer = polish_opt, optCtrl = list(iter.max = 1e4, eval.max = 1e4, rel.tol = 1e-12))
lctl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, maxeval = 1e5))
# glmer.nb: bobyqa; its inner refits at trial thetas fail with tolPwrss = 1e-12 (pwrssUpdate), so lme4's default
gctl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))

cctl <- clmm.control(method = "nlminb", gradTol = 1e-12, maxIter = 1e4, maxLineIter = 1000,
                     innerCtrl = "noWarn", rel.tol = 1e-14, iter.max = 1e4, eval.max = 1e4)

# evaluate expr, returning list(value, warnings)
catching <- function(expr) {
  w <- character(0)
  val <- withCallingHandlers(tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "failed")),
                             warning = function(cw) { w <<- c(w, conditionMessage(cw)); invokeRestart("muffleWarning") },
                             message = function(cm) invokeRestart("muffleMessage"))
  list(value = val, warnings = unique(w))
}
named <- function(x) if (is.null(x)) NULL else if (is.null(names(x))) unname(as.numeric(x)) else as.list(x)
cond <- function(b) if (is.list(b)) b$cond else b          # glmmTMB's fixef is a list
fixef_of <- function(m) { b <- cond(fixef(m)); list(names = names(b), estimate = unname(b)) }
sds_of <- function(m) {
  vc <- VarCorr(m); if (inherits(m, "glmmTMB")) vc <- vc$cond
  lapply(vc, function(S) list(terms = rownames(S), sd = unname(as.numeric(attr(S, "stddev")))))
}
gradient_of <- function(m) if (inherits(m, "glmmTMB")) max(abs(m$sdr$gradient.fixed)) else NULL
decomposition <- function(m) {
  v <- catching(get_variance(m))
  ic <- catching(icc(m))
  r2 <- catching(r2_nakagawa(m))
  gv <- v$value
  list(
    get_variance = if (inherits(gv, "failed")) list(error = as.character(gv)) else lapply(gv, named),
    get_variance_warnings = v$warnings,
    icc = if (inherits(ic$value, "failed") || is.null(ic$value)) list(error = as.character(ic$value))
          else list(ICC_adjusted = ic$value$ICC_adjusted, ICC_unadjusted = ic$value$ICC_unadjusted),
    icc_warnings = ic$warnings,
    r2_nakagawa = if (inherits(r2$value, "failed")) list(error = as.character(r2$value))
                  else list(R2_conditional = unname(r2$value$R2_conditional), R2_marginal = unname(r2$value$R2_marginal)),
    r2_nakagawa_warnings = r2$warnings)
}
# the fit in hierax's parametrisation, its null model and the distribution-specific variance by hand
entry <- function(m, data_file, hierax_family, dpar, dispersion, null_dispersion, by_hand, formula_text) {
  out <- list(formula = paste(deparse(formula(m), width.cutoff = 500), collapse = " "),
              data_file = data_file, nobs = nobs(m), hierax_family = hierax_family,
              logLik = as.numeric(logLik(m)), max_abs_gradient = gradient_of(m),
              fixef = fixef_of(m), sds = sds_of(m), family = setNames(list(dispersion(m)), dpar),
              var_distribution_formula = formula_text)
  if (!is.null(null_dispersion)) {
    nm <- catching(null_model(m))$value
    b0 <- unname(cond(fixef(nm)))
    out$null_model <- list(formula = paste(deparse(formula(nm), width.cutoff = 500), collapse = " "),
                           intercept = b0, mu = exp(b0))
    out$null_model$max_abs_gradient <- gradient_of(nm)
    out$null_model[[dpar]] <- null_dispersion(nm)
    out$var_distribution_by_hand <- by_hand(exp(b0), dispersion(m))
  } else {
    out$var_distribution_by_hand <- by_hand(NA, dispersion(m))
  }
  Filter(Negate(is.null), c(out, decomposition(m)))
}

out <- list(source = paste0(
  "R ", getRversion(), "; glmmTMB ", packageVersion("glmmTMB"), ", TMB ", packageVersion("TMB"),
  ", lme4 ", packageVersion("lme4"), ", performance ", packageVersion("performance"),
  ", insight ", packageVersion("insight"), ", ordinal ", packageVersion("ordinal"), ", jsonlite ", packageVersion("jsonlite"),
  "; glmmTMB nlminb rel.tol 1e-12 + Newton polish to max|gradient| < 1e-9; lmer nloptwrap xtol 1e-12; glmer.nb bobyqa maxfun 1e5; clmm nlminb rel.tol 1e-14"))

nb_hand <- function(mu, theta) log1p(1 / mu + 1 / theta)
nb_text <- "log1p(1/mu + 1/theta), mu = exp(null-model intercept), theta = the full model's (sigma(m))"
m <- glmmTMB(y ~ trt + lbase + (1 | subject), data = epil, family = nbinom2, control = ctl)
out$nbinom2_epil <- entry(m, "tests/reference/data/epil.csv", "negbinomial", "shape", sigma, sigma, nb_hand, nb_text)
m <- glmmTMB(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), data = grouse, family = nbinom2, control = ctl)
out$nbinom2_grouseticks <- entry(m, "shared/data/teaching/grouseticks.csv", "negbinomial", "shape", sigma, sigma,
                                 nb_hand, nb_text)
nb_theta <- function(m) getME(m, "glmer.nb.theta")
m <- glmer.nb(y ~ trt + lbase + (1 | subject), data = epil, control = gctl)
out$glmer_nb_epil <- entry(m, "tests/reference/data/epil.csv", "negbinomial", "shape", nb_theta, nb_theta, nb_hand,
                           "log1p(1/mu + 1/theta), mu = exp(null-model intercept), theta = getME(m, 'glmer.nb.theta')")
m <- glmmTMB(Reaction ~ Days + (1 | Subject), data = sleep, family = Gamma(link = "log"), control = ctl)
out$gamma_sleepstudy <- entry(m, "shared/data/teaching/sleepstudy.csv", "gamma", "shape", function(m) 1 / sigma(m)^2,
                              NULL, function(mu, shape) 1 / shape, "sigma(m)^2 = 1/shape (the full model's shape)")
m <- glmmTMB(yield ~ ctemp + (1 | batch), data = gas, family = beta_family(link = "logit"), control = ctl)
out$beta_gasoline <- entry(m, "tests/reference/data/GasolineYield.csv", "beta", "phi", sigma, sigma,
                           function(mu, phi) log1p(mu * (1 - mu) / (1 + phi) / mu^2),
                           "log1p((mu (1 - mu)/(1 + phi))/mu^2), mu = exp(null-model intercept) (exp, not plogis), phi = the full model's")
m <- lmer(log(Reaction) ~ Days + (1 | Subject), data = sleep, REML = FALSE, control = lctl)
out$lognormal_sleepstudy <- entry(m, "shared/data/teaching/sleepstudy.csv", "lognormal", "sigma", sigma, NULL,
                                  function(mu, sigma) sigma^2, "sigma^2 (gaussian model of log(Reaction), ML)")
for (lk in c("logit", "probit")) {
  m <- clmm(rating ~ temp + contact + (1 | judge), data = wine, link = lk, control = cctl)
  vc <- VarCorr(m)
  out[[paste0("cumulative_", lk, "_wine")]] <- c(list(
    formula = "rating ~ temp + contact + (1 | judge)", data_file = "tests/reference/data/wine.csv", nobs = nobs(m),
    hierax_family = "cumulative", link = lk, logLik = as.numeric(logLik(m)),
    fixef = list(names = names(m$beta), estimate = unname(m$beta)), thresholds = list(names = names(m$alpha),
    estimate = unname(m$alpha)),
    sds = lapply(vc, function(S) list(terms = rownames(S), sd = unname(as.numeric(attr(S, "stddev"))))),
    var_distribution_formula = if (lk == "logit") "pi^2/3" else "1",
    var_distribution_by_hand = if (lk == "logit") pi^2 / 3 else 1), decomposition(m))
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
