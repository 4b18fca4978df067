# Power by simulation of a two-arm cluster-randomised trial (CRT) with a binary outcome, analysed
# by lme4's glmer, as a reference a Python implementation must match within Monte Carlo error
# (simr is not in Debian, so the simulation is done directly with lme4, as simr's powerSim would).
# Design: K clusters in total, arm = 0 for clusters 1..K/2 and arm = 1 for clusters K/2+1..K;
#   m individuals per cluster (equal sizes); cluster effect u_k ~ N(0, sd_u^2) on the logit scale;
#   y_ik ~ Bernoulli(plogis(b0 + b1 * arm_k + u_k)). b0 is the control arm's conditional log-odds
#   (qlogis(0.3): 30% for a cluster with u_k = 0), b1 the conditional log odds ratio, sd_u the sd
#   (not the variance) of the cluster intercept.
# Each simulated trial draws u <- rnorm(K, 0, sd_u), then y <- rbinom(K * m, 1, p) with rows ordered
#   cluster by cluster (cluster 1's m individuals first), after set.seed(seed) once per scenario.
# Analysis: glmer(y ~ arm + (1 | cluster), family = binomial, nAGQ = 1 (Laplace),
#   control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))); significant when the
#   Wald z test's two-sided p, summary(fit)$coefficients["arm", "Pr(>|z|)"], is < alpha = 0.05 (simr's
#   default z-test for a binomial glmer). A fit that errors counts as not significant (n_error); fits
#   with warnings (convergence) are kept and counted (n_warning); singular fits (isSingular, default
#   tol 1e-4) are kept and counted (n_singular). power = n_significant / nsim, mc_se = sqrt(p (1 - p) / nsim).
# Scenario 3 (b1 = 0) is the null: its "power" is the test's size (Wald z with few clusters can be liberal).
# Run from tests/reference, single-threaded: Rscript crt_power.R > crt_power.json
#   (needs r-cran-lme4, r-cran-jsonlite)
suppressMessages({library(lme4); library(jsonlite)})
control <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
alpha <- 0.05
scenarios <- list(
  K20_m30_OR2 = list(K = 20, m = 30, b0 = qlogis(0.3), b1 = log(2), sd_u = 0.5, nsim = 2000, seed = 20240601),
  K10_m30_OR2 = list(K = 10, m = 30, b0 = qlogis(0.3), b1 = log(2), sd_u = 0.5, nsim = 2000, seed = 20240602),
  K20_m30_null = list(K = 20, m = 30, b0 = qlogis(0.3), b1 = 0, sd_u = 0.5, nsim = 2000, seed = 20240603)
)
out <- list(source = paste("lme4", packageVersion("lme4"), "on R", getRversion(),
                           "glmer Laplace (nAGQ 1), bobyqa maxfun 1e5, Wald z test of arm, alpha 0.05"))
for (name in names(scenarios)) {
  s <- scenarios[[name]]
  set.seed(s$seed)
  cluster <- rep(seq_len(s$K), each = s$m)
  arm_k <- rep(0:1, each = s$K / 2)
  arm <- arm_k[cluster]
  n_sig <- 0; n_err <- 0; n_sing <- 0; n_warn <- 0
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(s$nsim)) {
    u <- rnorm(s$K, 0, s$sd_u)
    y <- rbinom(s$K * s$m, 1, plogis(s$b0 + s$b1 * arm + u[cluster]))
    d <- data.frame(y = y, arm = arm, cluster = factor(cluster))
    warned <- FALSE
    fit <- tryCatch(withCallingHandlers(
      suppressMessages(glmer(y ~ arm + (1 | cluster), data = d, family = binomial, nAGQ = 1, control = control)),
      warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") }),
      error = function(e) NULL)
    if (is.null(fit)) { n_err <- n_err + 1; next }
    if (warned) n_warn <- n_warn + 1
    if (isSingular(fit)) n_sing <- n_sing + 1
    p <- summary(fit)$coefficients["arm", "Pr(>|z|)"]
    if (is.finite(p) && p < alpha) n_sig <- n_sig + 1
  }
  secs <- proc.time()[["elapsed"]] - t0
  power <- n_sig / s$nsim
  out[[name]] <- list(
    inputs = list(K = s$K, m = s$m, clusters_per_arm = s$K / 2, b0 = s$b0, p0 = plogis(s$b0), b1 = s$b1,
                  odds_ratio = exp(s$b1), sd_u = s$sd_u, alpha = alpha, seed = s$seed),
    nsim = s$nsim, n_significant = n_sig, power = power, mc_se = sqrt(power * (1 - power) / s$nsim),
    n_error = n_err, n_singular = n_sing, n_warning = n_warn, seconds = round(secs, 1))
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
