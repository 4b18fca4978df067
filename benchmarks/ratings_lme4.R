# lme4 reference fit of the crossed random-intercepts model on a ratings data set (columns rating,
# user, item), e.g. the synthetic 1,000,000-row set written by benchmarks/ratings_data.py:
#   rating ~ 1 + (1 | user) + (1 | item)
# Usage: Rscript benchmarks/ratings_lme4.R DATA.csv [REML|ML]   (prints one JSON object)
#
# Three fits, each timed with system.time (elapsed seconds, the lmer() call only, data read excluded):
#   "converged":     nloptwrap (BOBYQA) with xtol_abs = ftol_abs = 1e-10, xtol_rel = 0,
#                    maxeval = 10000, calc.derivs = FALSE: the optimiser run to convergence.
#                    xtol_rel = 0 matters: lme4 1.1.31's nloptwrap defaults are only
#                    xtol_abs = ftol_abs = 1e-8, maxeval = 1e5, and nloptr (2.0.3) then fills in its
#                    own default xtol_rel = 1e-4, which is what stops BOBYQA ("NLOPT_XTOL_REACHED")
#                    long before the absolute tolerances bite.
#   "brief_control": the same control without xtol_rel (xtol_abs = ftol_abs = 1e-10,
#                    maxeval = 10000, calc.derivs = FALSE), so nloptr's xtol_rel = 1e-4 still applies;
#                    kept to show that tightening only the absolute tolerances does not converge further.
#   "default":       lmer() with the default lmerControl() (nloptwrap with the tolerances above,
#                    plus the finite-difference gradient/Hessian check, calc.derivs = TRUE, whose cost
#                    is included in its time), i.e. lme4's out-of-the-box time.
# All three use the REML or ML criterion asked for.
#
# Parametrisation notes:
#   * theta is lme4's relative covariance factor; for scalar random intercepts it is the relative
#     standard deviation of each term, theta_g = sd_g / sigma (sigma = residual sd). Group sds are
#     theta * sigma (reported below as sd).
#   * lme4 orders the random-effect terms (and so theta) by decreasing number of levels of the
#     grouping factor. Here user (6,040 levels) comes before item (3,703 levels), so
#     theta = c("user.(Intercept)", "item.(Intercept)"); the names printed with theta confirm it.
#   * "criterion" is REMLcrit(fit) (-2 x REML log-likelihood) for REML, deviance(fit) (= -2 logLik)
#     for ML; both are on lme4's scale including the 2*pi constants. "minus2loglik" is
#     -2 * logLik(fit), i.e. the same number (logLik of a REML fit is the REML log-likelihood).
#   * beta is fixef(fit): the single intercept.
#   * feval is fit@optinfo$feval, the number of objective (profiled deviance) evaluations.
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript benchmarks/ratings_lme4.R DATA.csv [REML|ML]")
path <- args[1]
method <- if (length(args) > 1) toupper(args[2]) else "REML"
if (!method %in% c("REML", "ML")) stop("method must be REML or ML")
reml <- method == "REML"

d <- if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(path, select = c("rating", "user", "item")))
} else {
  read.csv(path)[, c("rating", "user", "item")]
}
d$rating <- as.numeric(d$rating)
d$user <- factor(d$user)
d$item <- factor(d$item)

form <- rating ~ 1 + (1 | user) + (1 | item)
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-10, xtol_rel = 0,
                                    maxeval = 10000),
                     calc.derivs = FALSE)
brief <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-10, maxeval = 10000),
                     calc.derivs = FALSE)

run_fit <- function(control) {
  warns <- character()
  fit <- NULL
  secs <- system.time(
    fit <- withCallingHandlers(
      if (is.null(control)) lmer(form, data = d, REML = reml)
      else lmer(form, data = d, REML = reml, control = control),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        message("lme4 warning: ", conditionMessage(w))
        invokeRestart("muffleWarning")
      })
  )[["elapsed"]]
  theta <- getME(fit, "theta")
  sigma <- sigma(fit)
  oi <- fit@optinfo
  list(
    seconds = secs,
    criterion_name = if (reml) "REMLcrit" else "deviance",
    criterion = if (reml) as.numeric(REMLcrit(fit)) else as.numeric(deviance(fit)),
    minus2loglik = -2 * as.numeric(logLik(fit)),
    theta = as.list(theta),
    sd = as.list(theta * sigma),
    sigma = sigma,
    beta = as.list(fixef(fit)),
    feval = oi$feval,
    optimizer = oi$optimizer,
    opt_conv = oi$conv$opt,
    opt_message = oi$message,
    lme4_messages = as.list(unlist(oi$conv$lme4$messages)),
    warnings = as.list(oi$warnings),
    caught_warnings = as.list(warns)
  )
}

out <- list(
  lme4 = as.character(packageVersion("lme4")),
  R = R.version.string,
  data = path,
  method = method,
  rows = nrow(d),
  users = nlevels(d$user),
  items = nlevels(d$item),
  formula = paste(deparse(form), collapse = ""),
  converged = run_fit(tight),
  brief_control = run_fit(brief),
  default = run_fit(NULL)
)
out$criterion_brief_control_minus_converged <- out$brief_control$criterion - out$converged$criterion
out$criterion_default_minus_converged <- out$default$criterion - out$converged$criterion
cat(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "\n")
