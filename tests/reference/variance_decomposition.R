# Variance decomposition (ICC, Nakagawa R2, insight's variance components), small-sample
# inference for lmer fits (Satterthwaite and Kenward-Roger), and GEE fits, for hierax's
# variance-decomposition / ddf / GEE tests.
#
# Models (lme4, fitted to convergence: lmer REML = TRUE with bobyqa maxfun = 1e5; glmer with
# bobyqa maxfun = 1e5 and tolPwrss = 1e-12, Laplace, nAGQ = 1):
# 1. sleepstudy:    Reaction ~ Days + (Days | Subject), gaussian (correlated random slope);
# 2. pastes:        strength ~ 1 + (1 | batch/cask), gaussian, nested (groups "cask:batch", "batch");
# 3. penicillin:    diameter ~ 1 + (1 | plate) + (1 | sample), gaussian, crossed;
# 4. chickweight:   weight ~ Time * Diet + (1 | Chick), gaussian, Diet a factor (level-2 predictor),
#                   main numbers with contr.treatment (R's default); the entry "chickweight_contr_sum"
#                   refits with options(contrasts = c("contr.sum", "contr.poly")) and records its fixef and
#                   the type III anova tables (both recorded; lmerTest 3.1.3's type III tables come out
#                   identical under the two codings, so contr.sum is not needed for them). The contrast
#                   Diet2 - Diet3 uses the contr.treatment coefficients (a difference at Time = 0);
# 5. contraception: use ~ age + urban + (1 | district), bernoulli logit (data/contraception.csv:
#                   use 1 = "Y", urban "N"/"Y" as a factor, district a factor, 60 districts);
# 6. cbpp:          cbind(incidence, size - incidence) ~ period + (1 | herd), binomial logit with trials
#                   (period and herd factors); lme4's logLik includes the binomial coefficient;
# 7. grouseticks:   TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION), poisson log (YEAR, BROOD, LOCATION factors).
#
# Parametrisation: "varcorr" is lme4's VarCorr, one entry per grouping factor with the term names,
# the sds and the correlation matrix (row-major list of rows); "sigma" is the residual sd (gaussian
# only). theta is lme4's relative Cholesky factor (getME(m, "theta")). logLik is lme4's (REML
# log-likelihood for lmer, whose REML criterion is -2 logLik); "reml_criterion" is REMLcrit(m).
#
# Variance decomposition (performance / insight, versions in "source"):
#   insight::get_variance(m): var.fixed = var(X beta) (sample variance, n - 1 denominator, over the
#   fitted rows); var.random = sum over grouping factors of mean_i z_i' Sigma_g z_i, z_i the rows of X
#   for the terms of that factor (= sum of intercept variances for intercept-only terms; for the random
#   slope: mean over rows of Var(b0 + b1 Days_i)); var.residual = var.distribution + var.dispersion
#   (var.dispersion = 0 here: no observation-level random effects); var.intercept (per grouping factor),
#   var.slope, cor.slope_intercept are the VarCorr entries.
#   var.distribution per family (insight:::.compute_variance_distribution in the installed version):
#   - gaussian: sigma^2 (residual variance);
#   - binomial / bernoulli, logit link: pi^2 / 3 (also for binomial with trials; probit 1, cloglog pi^2/6);
#   - poisson, log link: log1p(1 / mu) = log(1 + 1/mu) (the "lognormal" approximation), with
#     mu = exp(b0) where b0 is the fixed intercept of the NULL model refitted by stats::update with
#     the fixed part replaced by 1 and the same random terms (TICKS ~ (1 | BROOD) + (1 | LOCATION), same
#     control); family(m)$variance(mu) / mu^2 = 1/mu; no 0.5 * sigma^2 term. "null_model" below records
#     that refit (b0, mu) so the value can be reproduced.
#   performance::icc: ICC_adjusted = var.random / (var.random + var.residual); ICC_unadjusted =
#   var.random / (var.fixed + var.random + var.residual); by_group: var.intercept[g] / (var.random +
#   var.residual) (warns for random slopes). performance::r2_nakagawa: R2_marginal = var.fixed / total,
#   R2_conditional = (var.fixed + var.random) / total, total = var.fixed + var.random + var.residual.
#
# Gaussian models 1-4 also: lmerTest Satterthwaite and Kenward-Roger coefficient tables
# (summary(lmerTest::as_lmerModLmerTest(m), ddf = ...)$coefficients; the KR se is sqrt of diag(vcovAdj);
# note: methods::as(m, "lmerModLmerTest") in lmerTest 3.1.3 returns an object with empty slots, se 0);
# pbkrtest::vcovAdj(m) (row-major list of rows, fixef order) and pbkrtest::get_Lb_ddf(m, L) for one
# contrast L; lmerTest::contest for the same L with both ddf methods, as a t test (joint = FALSE) and as
# an F test (joint = TRUE). Model 4 also anova(type = 3) with both ddf methods.
#
# GEE (geepack::geeglm, family binomial logit, corstr = "exchangeable", data sorted by the id with a
# stable order, default sandwich se "san.se"): contraception (id = district); cbpp in two forms:
# "cbpp_long" expands each herd-period row into incidence rows with y = 1 followed by size - incidence
# rows with y = 0 (842 bernoulli rows, id = herd, sorted by herd then period); "cbpp_cbind" gives geeglm
# the cbind response directly (it fits, but its scale, 0.134, looks like it ignores the size weights:
# the glm's Pearson dispersion is 2.19 weighted by size, 0.17 unweighted; prefer cbpp_long).
# alpha = working exchangeable correlation, scale = geese's gamma (Pearson scale estimate). geese is run
# to convergence (geese.control(epsilon = 1e-12, maxit = 500)): its default epsilon 1e-4 stops a few
# parts in 1e6 short (statsmodels' GEE with ddof_scale = 0 then agrees to 1e-9).
#
# Reproducibility: rerunning gives identical output except penicillin, whose bobyqa endpoint varies
# between processes on a flat REML surface (REML criterion equal to 1e-14; theta, sds, se, df to ~3e-7
# relative; p values to ~1e-5 relative): compare penicillin with rtol >= 1e-5.
# "warnings" collect R warnings raised by each call; "messages" lme4's convergence messages.
# Run from tests/reference: Rscript variance_decomposition.R > variance_decomposition.json
# (needs r-cran-lme4, r-cran-performance, r-cran-lmertest, r-cran-pbkrtest, r-cran-geepack, r-cran-jsonlite)
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(performance)
  library(insight); library(geepack); library(jsonlite)})
teach <- function(f) read.csv(file.path("..", "..", "..", "shared", "data", "teaching", f))
sleep <- teach("sleepstudy.csv"); sleep$Subject <- factor(sleep$Subject)
pastes <- teach("Pastes.csv"); pastes$batch <- factor(pastes$batch); pastes$cask <- factor(pastes$cask)
penicillin <- teach("Penicillin.csv"); penicillin$plate <- factor(penicillin$plate); penicillin$sample <- factor(penicillin$sample)
chick <- teach("ChickWeight.csv"); chick$Chick <- factor(chick$Chick); chick$Diet <- factor(chick$Diet)
contra <- read.csv(file.path("data", "contraception.csv"))
contra$urban <- factor(contra$urban); contra$district <- factor(contra$district)
cbpp <- teach("cbpp.csv"); cbpp$period <- factor(cbpp$period); cbpp$herd <- factor(cbpp$herd)
grouse <- teach("grouseticks.csv")
grouse$YEAR <- factor(grouse$YEAR); grouse$BROOD <- factor(grouse$BROOD); grouse$LOCATION <- factor(grouse$LOCATION)

lctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
gctrl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(maxfun = 1e5))

# evaluate expr, returning list(value, warnings)
catching <- function(expr) {
  w <- character(0)
  val <- withCallingHandlers(tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "failed")),
                             warning = function(cw) { w <<- c(w, conditionMessage(cw)); invokeRestart("muffleWarning") },
                             message = function(cm) invokeRestart("muffleMessage"))
  list(value = val, warnings = w)
}
rows <- function(M) unname(lapply(seq_len(nrow(M)), function(i) unname(as.numeric(M[i, ]))))
tab <- function(df) {  # data frame / matrix -> list(rownames, columns as named vectors)
  df <- as.data.frame(df)
  c(list(rownames = rownames(df)), lapply(as.list(df), function(v) unname(as.numeric(v))))
}
varcorr <- function(m) {
  vc <- VarCorr(m)
  lapply(vc, function(S) list(terms = rownames(S), sd = unname(as.numeric(attr(S, "stddev"))),
                              corr = rows(if (nrow(S) > 1) attr(S, "correlation") else matrix(1))))
}
named <- function(x) if (is.null(x)) NULL else if (is.null(names(x))) unname(as.numeric(x)) else as.list(x)
basics <- function(m) {
  out <- list(
    formula = paste(deparse(formula(m), width.cutoff = 500), collapse = " "),
    family = family(m)$family, link = family(m)$link, nobs = nobs(m),
    ngroups = as.list(ngrps(m)),
    fixef = list(names = names(fixef(m)), estimate = unname(fixef(m)),
                 se = unname(sqrt(diag(as.matrix(vcov(m)))))),
    varcorr = varcorr(m), theta = unname(getME(m, "theta")),
    logLik = as.numeric(logLik(m)),
    messages = as.character(unlist(m@optinfo$conv$lme4$messages)),
    optimizer_warnings = as.character(unlist(m@optinfo$warnings)))
  if (isLMM(m)) { out$sigma <- sigma(m); out$reml_criterion <- as.numeric(REMLcrit(m)) }
  out
}
decomposition <- function(m) {
  v <- catching(get_variance(m))
  ic <- catching(icc(m))
  icg <- catching(icc(m, by_group = TRUE))
  r2 <- catching(r2_nakagawa(m))
  gv <- v$value
  list(
    get_variance = if (inherits(gv, "failed")) list(error = as.character(gv)) else lapply(gv, named),
    get_variance_warnings = v$warnings,
    icc = if (inherits(ic$value, "failed") || is.null(ic$value)) list(error = as.character(ic$value))
          else list(ICC_adjusted = ic$value$ICC_adjusted, ICC_unadjusted = ic$value$ICC_unadjusted),
    icc_warnings = ic$warnings,
    icc_by_group = if (inherits(icg$value, "failed") || is.null(icg$value)) list(error = as.character(icg$value))
                   else list(group = icg$value$Group, ICC = icg$value$ICC),
    icc_by_group_warnings = icg$warnings,
    r2_nakagawa = if (inherits(r2$value, "failed")) list(error = as.character(r2$value))
                  else list(R2_conditional = unname(r2$value$R2_conditional), R2_marginal = unname(r2$value$R2_marginal)),
    r2_nakagawa_warnings = r2$warnings)
}
coeftab <- function(ct) {
  ct <- as.data.frame(ct)
  list(names = rownames(ct), estimate = ct[["Estimate"]], se = ct[["Std. Error"]], df = ct[["df"]],
       t = ct[["t value"]], p = ct[["Pr(>|t|)"]])
}
anovatab <- function(a) {
  a <- as.data.frame(a)
  list(terms = rownames(a), sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]], num_df = a[["NumDF"]],
       den_df = a[["DenDF"]], F = a[["F value"]], p = a[["Pr(>F)"]])
}
ddf_block <- function(m, L, Lname) {
  mt <- as_lmerModLmerTest(m)
  L <- matrix(L, nrow = 1, dimnames = list(NULL, names(fixef(m))))
  out <- list(satterthwaite = coeftab(summary(mt, ddf = "Satterthwaite")$coefficients),
              kenward_roger = coeftab(summary(mt, ddf = "Kenward-Roger")$coefficients),
              vcovAdj = rows(as.matrix(vcovAdj(m))),
              contrast = list(description = Lname, L = as.numeric(L)))
  out$contrast$get_Lb_ddf <- get_Lb_ddf(m, L)
  for (dd in c("Satterthwaite", "Kenward-Roger")) {
    t1 <- as.data.frame(contest(mt, L, joint = FALSE, ddf = dd))
    f1 <- as.data.frame(contest(mt, L, joint = TRUE, ddf = dd))
    key <- if (dd == "Satterthwaite") "satterthwaite" else "kenward_roger"
    out$contrast[[key]] <- list(
      t_test = list(estimate = t1[["Estimate"]], se = t1[["Std. Error"]], df = t1[["df"]],
                    t = t1[["t value"]], p = t1[["Pr(>|t|)"]]),
      F_test = list(sum_sq = f1[["Sum Sq"]], mean_sq = f1[["Mean Sq"]], num_df = f1[["NumDF"]],
                    den_df = f1[["DenDF"]], F = f1[["F value"]], p = f1[["Pr(>F)"]]))
  }
  out
}

out <- list(source = paste0(
  "R ", getRversion(), "; lme4 ", packageVersion("lme4"), ", Matrix ", packageVersion("Matrix"),
  ", performance ", packageVersion("performance"), ", insight ", packageVersion("insight"),
  ", lmerTest ", packageVersion("lmerTest"), ", pbkrtest ", packageVersion("pbkrtest"),
  ", geepack ", packageVersion("geepack"), ", jsonlite ", packageVersion("jsonlite"),
  "; lmer REML bobyqa maxfun 1e5; glmer Laplace bobyqa maxfun 1e5 tolPwrss 1e-12"))

## gaussian models 1-4
gauss <- list(
  sleepstudy = list(Reaction ~ Days + (Days | Subject), "sleep", c(0, 1), "Days (L = c(0, 1))"),
  pastes = list(strength ~ 1 + (1 | batch/cask), "pastes", 1, "(Intercept) (L = 1)"),
  penicillin = list(diameter ~ 1 + (1 | plate) + (1 | sample), "penicillin", 1, "(Intercept) (L = 1)"),
  chickweight = list(weight ~ Time * Diet + (1 | Chick), "chick", c(0, 0, 1, -1, 0, 0, 0, 0),
                     "Diet2 - Diet3 (main-effect coefficients, contr.treatment: L = c(0,0,1,-1,0,0,0,0))"))
for (name in names(gauss)) {
  g <- gauss[[name]]
  m <- eval(bquote(lme4::lmer(.(g[[1]]), data = .(as.name(g[[2]])), REML = TRUE, control = lctrl)))
  res <- c(basics(m), list(contrasts = "contr.treatment"), decomposition(m), ddf_block(m, g[[3]], g[[4]]))
  if (name == "chickweight") {
    mt <- as_lmerModLmerTest(m)
    res$anova_type3 <- list(satterthwaite = anovatab(anova(mt, type = 3, ddf = "Satterthwaite")),
                            kenward_roger = anovatab(anova(mt, type = 3, ddf = "Kenward-Roger")))
  }
  out[[name]] <- res
}
old <- options(contrasts = c("contr.sum", "contr.poly"))
m <- lme4::lmer(weight ~ Time * Diet + (1 | Chick), data = chick, REML = TRUE, control = lctrl)
mt <- as_lmerModLmerTest(m)
out$chickweight_contr_sum <- list(
  contrasts = "contr.sum for Diet (options(contrasts = c('contr.sum', 'contr.poly')))",
  fixef = list(names = names(fixef(m)), estimate = unname(fixef(m)), se = unname(sqrt(diag(as.matrix(vcov(m)))))),
  logLik = as.numeric(logLik(m)), reml_criterion = as.numeric(REMLcrit(m)),
  messages = as.character(unlist(m@optinfo$conv$lme4$messages)),
  anova_type3 = list(satterthwaite = anovatab(anova(mt, type = 3, ddf = "Satterthwaite")),
                     kenward_roger = anovatab(anova(mt, type = 3, ddf = "Kenward-Roger"))))
options(old)

## non-gaussian models 5-7
m5 <- glmer(use ~ age + urban + (1 | district), data = contra, family = binomial, control = gctrl)
m6 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial, control = gctrl)
m7 <- glmer(TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION), data = grouse, family = poisson, control = gctrl)
out$contraception <- c(basics(m5), list(var_distribution_formula = "pi^2/3 (logit)"), decomposition(m5))
out$cbpp <- c(basics(m6), list(var_distribution_formula = "pi^2/3 (logit)"), decomposition(m6))
m7null <- glmer(TICKS ~ (1 | BROOD) + (1 | LOCATION), data = grouse, family = poisson, control = gctrl)
b0 <- unname(fixef(m7null))
out$grouseticks <- c(basics(m7), list(
  var_distribution_formula = "log1p(1/mu), mu = exp(intercept of the null model TICKS ~ (1 | BROOD) + (1 | LOCATION))",
  null_model = list(intercept = b0, mu = exp(b0), log1p_inv_mu = log1p(1 / exp(b0)),
                    messages = as.character(unlist(m7null@optinfo$conv$lme4$messages)))),
  decomposition(m7))

## GEE
gee <- function(formula, data, idname) {
  data <- data[order(data[[idname]]), , drop = FALSE]   # order() is stable
  data$.id <- data[[idname]]
  r <- catching(geeglm(formula, id = .id, data = data, family = binomial, corstr = "exchangeable",
                         control = geese.control(epsilon = 1e-12, maxit = 500)))
  g <- r$value
  s <- summary(g)
  list(formula = paste(deparse(formula, width.cutoff = 500), collapse = " "), id = idname,
       nobs = nrow(data), nclusters = length(unique(data$.id)), corstr = "exchangeable", std_err = "san.se",
       coef = list(names = names(coef(g)), estimate = unname(coef(g)), robust_se = s$coefficients[["Std.err"]],
                   wald = s$coefficients[["Wald"]], p = s$coefficients[["Pr(>|W|)"]]),
       alpha = unname(g$geese$alpha), alpha_se = unname(sqrt(diag(as.matrix(g$geese$valpha)))),
       scale = unname(g$geese$gamma), scale_se = unname(sqrt(diag(as.matrix(g$geese$vgamma)))),
       vcov_robust = rows(as.matrix(g$geese$vbeta)), warnings = r$warnings)
}
cbpp_long <- do.call(rbind, lapply(seq_len(nrow(cbpp)), function(i) {
  r <- cbpp[i, ]
  data.frame(herd = r$herd, period = r$period, y = c(rep(1L, r$incidence), rep(0L, r$size - r$incidence)))
}))
cbpp_long <- cbpp_long[order(cbpp_long$herd, cbpp_long$period), ]
out$gee <- list(
  contraception = gee(use ~ age + urban, contra, "district"),
  cbpp_long = gee(y ~ period, cbpp_long, "herd"),
  cbpp_cbind = gee(cbind(incidence, size - incidence) ~ period, cbpp, "herd"))
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
