# NUTS posterior references (rstan, plain Stan code in tests/reference/stan/*.stan) for
# meta-analysis with known standard errors, a censored Weibull frailty model and imputation of
# missing predictors/responses during fitting (brms's mi()).
# Run from /work/main:  Rscript tests/reference/stan_missing.R > tests/reference/stan_missing.json
#   (optional arguments: model names to run a subset, e.g. `... stan_missing.R meta_fixed kidney_weibull`)
# Needs r-cran-rstan, r-cran-posterior, r-cran-jsonlite and libboost-dev (Debian packages; Debian's
#   r-cran-bh has no headers, so boost_lib is pointed at /usr/include below); 2 chains in parallel.
# Run time: about 4.5 minutes in all on 2 cores (~40-50 s compilation per .stan file, meta_random.stan
#   compiled once for meta_random and meta_random_ablat, + 4-27 s sampling per model; see "seconds"
#   per model in the JSON).
#
# Sampling: 4 chains, 2,000 warmup + 10,000 post-warmup draws each (40,000 draws), adapt_delta 0.95,
#   fixed seed per model, default max_treedepth 10. Checked: 0 divergences, max R-hat < 1.01
#   (see "diagnostics" per model; the script stops if a check fails).
# Summaries: posterior::summarise_draws (package 'posterior'): mean, sd, q5, q95 (quantile2),
#   rhat, ess_bulk, ess_tail, mcse_mean, mcse_sd.
# Parameter names follow brms: b_<coef>, sd_<group>__Intercept, shape, sigma_<resp>,
#   b_<resp>_<coef> (multivariate model), r_<group>[<level>,Intercept] (group-level effects, level =
#   the data's value of the grouping variable), Ymi_<resp>[k] (k-th missing value of <resp>, rows
#   in "missing_rows"). Every model's math (likelihood, links, priors) is written out in its "model"
#   string. Random effects are sampled non-centred (r_j = sd * z_j, z_j ~ N(0,1)), which is the same
#   posterior as r_j ~ N(0, sd^2). Intercept priors are on the intercept as written (column of ones),
#   NOT on a centred-predictor intercept as brms would do by default.
#   Half-distributions: "half-student_t(3, 0, s)" means student_t(3, 0, s) restricted to > 0.
#
# Data (the same files the Python tests read):
#   meta_*: tests/reference/data/bcg.csv (metafor::dat.bcg with yi, vi from
#           escalc(measure = "RR", ...): yi = log risk ratio, sei = sqrt(vi)); trial = 1..13.
#           meta_random_ablat uses ablat UNCENTRED (absolute latitude in degrees), as metafor's
#           rma(yi, vi, mods = ~ ablat) in meta_bcg.json.
#   kidney_weibull: tests/reference/data/kidney.csv (survival::kidney, 76 rows, 38 patients `id`).
#   nhanes_mi: tests/reference/data/nhanes.csv (mice::nhanes, 25 rows, NA = missing).
suppressMessages({library(rstan); library(posterior); library(jsonlite)})
rstan_options(auto_write = FALSE)
# Debian's r-cran-bh is an empty stub; Boost headers come from libboost-dev in /usr/include
if (!nzchar(system.file("include", package = "BH"))) rstan_options(boost_lib = "/usr/include")
options(mc.cores = 2)
args <- commandArgs(trailingOnly = TRUE)
quick <- nzchar(Sys.getenv("STAN_QUICK"))  # development only: short runs
n_warm <- if (quick) 500 else 2000
n_draw <- if (quick) 500 else 10000

here <- file.path("tests", "reference")
rl <- function(f) read.csv(file.path(here, "data", f))

bcg <- rl("bcg.csv")
kid <- rl("kidney.csv"); kid_levels <- sort(unique(kid$id)); kid$g <- match(kid$id, kid_levels)
nh <- rl("nhanes.csv")
mi_bmi <- which(is.na(nh$bmi)); mi_chl <- which(is.na(nh$chl))
fill0 <- function(x) ifelse(is.na(x), 0, x)

re_names <- function(group, levels) sprintf("r_%s[%s,Intercept]", group, levels)
specs <- list(
  meta_fixed = list(
    stan = "meta_fixed.stan", seed = 611, data_file = "tests/reference/data/bcg.csv",
    formula = "yi | se(sei) ~ 1",
    data = list(N = nrow(bcg), y = bcg$yi, se = bcg$sei),
    names = c(b_Intercept = "b_Intercept"),
    model = paste(
      "fixed-effect (common-effect) meta-analysis, known standard errors, no extra residual sd:",
      "yi_i ~ normal(b_Intercept, sei_i), sei_i = sqrt(vi_i) known;",
      "prior: b_Intercept ~ normal(0, 1)")),
  meta_random = list(
    stan = "meta_random.stan", seed = 622, data_file = "tests/reference/data/bcg.csv",
    formula = "yi | se(sei) ~ 1 + (1 | trial)  (equivalently yi | se(sei, sigma = TRUE) ~ 1, sigma = sd_trial__Intercept)",
    data = list(N = nrow(bcg), K = 1, y = bcg$yi, se = bcg$sei, X = matrix(1, nrow(bcg), 1)),
    names = c(`b[1]` = "b_Intercept", sd_trial = "sd_trial__Intercept"),
    re = list(stan = "r", group = "trial", levels = bcg$trial),
    model = paste(
      "random-effects meta-analysis, known standard errors:",
      "yi_i ~ normal(b_Intercept + r_trial[i], sei_i), sei_i = sqrt(vi_i) known (one row per trial);",
      "r_trial[i] ~ normal(0, sd_trial__Intercept) iid (sd_trial__Intercept = tau of metafor);",
      "priors: b_Intercept ~ normal(0, 1); sd_trial__Intercept ~ half-student_t(3, 0, 1)")),
  meta_random_ablat = list(
    stan = "meta_random.stan", seed = 633, data_file = "tests/reference/data/bcg.csv",
    formula = "yi | se(sei) ~ 1 + ablat + (1 | trial)  (ablat uncentred, degrees)",
    data = list(N = nrow(bcg), K = 2, y = bcg$yi, se = bcg$sei, X = cbind(1, bcg$ablat)),
    names = c(`b[1]` = "b_Intercept", `b[2]` = "b_ablat", sd_trial = "sd_trial__Intercept"),
    re = list(stan = "r", group = "trial", levels = bcg$trial),
    model = paste(
      "random-effects meta-regression, known standard errors:",
      "yi_i ~ normal(b_Intercept + b_ablat*ablat_i + r_trial[i], sei_i), sei_i = sqrt(vi_i) known,",
      "ablat_i = absolute latitude as in the file (NOT centred);",
      "r_trial[i] ~ normal(0, sd_trial__Intercept) iid;",
      "priors: b_Intercept ~ normal(0, 1); b_ablat ~ normal(0, 1); sd_trial__Intercept ~ half-student_t(3, 0, 1)")),
  kidney_weibull = list(
    stan = "kidney_weibull.stan", seed = 644, data_file = "tests/reference/data/kidney.csv",
    formula = "time | cens(1 - status) ~ sex + (1 | id), family = weibull()  (sex coded [sex == 2])",
    data = list(N = nrow(kid), J = length(kid_levels), time = kid$time, status = as.integer(kid$status),
                x = as.numeric(kid$sex == 2), g = kid$g),
    names = c(b_Intercept = "b_Intercept", b_sex = "b_sex", sd_id = "sd_id__Intercept", shape = "shape"),
    re = list(stan = "r", group = "id", levels = kid_levels),
    extra = list(censored_share = mean(kid$status == 0), n_censored = sum(kid$status == 0),
                 b_sex_coding = "b_sex multiplies the indicator [sex == 2] (brms with factor(sex) would name it b_sex2)"),
    model = paste(
      "Weibull frailty model with right censoring, brms weibull() parametrisation (log link on the mean):",
      "time_i ~ Weibull(shape, scale lambda_i), density (shape/lambda)(t/lambda)^(shape-1) exp(-(t/lambda)^shape),",
      "lambda_i = exp(eta_i) / tgamma(1 + 1/shape), so E[time_i] = exp(eta_i);",
      "eta_i = b_Intercept + b_sex*[sex_i == 2] + r_id[id_i]; r_id[j] ~ normal(0, sd_id__Intercept) iid;",
      "status_i = 1 (event): log-likelihood log f(time_i); status_i = 0 (right-censored, event after time_i):",
      "log S(time_i) = -(time_i/lambda_i)^shape (Stan weibull_lccdf);",
      "priors: b_Intercept ~ student_t(3, 4.6, 2.5) (4.6 ~ log(mean(time)) = 4.621); b_sex ~ normal(0, 2.5);",
      "sd_id__Intercept ~ half-student_t(3, 0, 1); shape ~ gamma(0.01, 0.01) (shape, rate; brms's default)")),
  nhanes_mi = list(
    stan = "nhanes_mi.stan", seed = 655, data_file = "tests/reference/data/nhanes.csv",
    formula = "bf(bmi | mi() ~ age + mi(chl)) + bf(chl | mi() ~ age) + set_rescor(FALSE)",
    data = list(N = nrow(nh), age = nh$age,
                Nmi_bmi = length(mi_bmi), Jmi_bmi = array(mi_bmi, dim = length(mi_bmi)), bmi_obs = fill0(nh$bmi),
                Nmi_chl = length(mi_chl), Jmi_chl = array(mi_chl, dim = length(mi_chl)), chl_obs = fill0(nh$chl)),
    names = c(b_bmi_Intercept = "b_bmi_Intercept", b_bmi_age = "b_bmi_age", b_bmi_chl = "b_bmi_chl",
              sigma_bmi = "sigma_bmi", b_chl_Intercept = "b_chl_Intercept", b_chl_age = "b_chl_age",
              sigma_chl = "sigma_chl",
              setNames(sprintf("Ymi_bmi[%d]", seq_along(mi_bmi)), sprintf("Ymi_bmi[%d]", seq_along(mi_bmi))),
              setNames(sprintf("Ymi_chl[%d]", seq_along(mi_chl)), sprintf("Ymi_chl[%d]", seq_along(mi_chl)))),
    extra = list(missing_rows = list(bmi = mi_bmi, chl = mi_chl),
                 missing_rows_note = "1-based row numbers of nhanes.csv; Ymi_<resp>[k] is the value at missing_rows$<resp>[k]",
                 b_bmi_chl_note = "brms names this coefficient bsp_bmi_michl (coefficient on mi(chl))"),
    model = paste(
      "two-response model with imputation during fitting (age numeric 1, 2, 3; hyp unused):",
      "bmi_i ~ normal(b_bmi_Intercept + b_bmi_age*age_i + b_bmi_chl*chl_i, sigma_bmi);",
      "chl_i ~ normal(b_chl_Intercept + b_chl_age*age_i, sigma_chl);",
      "bmi_i, chl_i at missing rows are parameters Ymi_bmi[k], Ymi_chl[k] (flat prior apart from these",
      "likelihood terms; a missing chl enters both lines); no residual correlation;",
      "priors: b_bmi_Intercept ~ normal(27, 10); b_bmi_age ~ normal(0, 10); b_bmi_chl ~ normal(0, 10);",
      "b_chl_Intercept ~ normal(190, 100); b_chl_age ~ normal(0, 50);",
      "sigma_bmi, sigma_chl ~ half-student_t(3, 0, 20)"))
)
if (length(args)) specs <- specs[args]

compiled <- list()
run_one <- function(s) {
  t0 <- Sys.time()
  if (is.null(compiled[[s$stan]]))
    compiled[[s$stan]] <<- stan_model(file.path(here, "stan", s$stan), model_name = sub("\\.stan$", "", s$stan))
  sm <- compiled[[s$stan]]
  t1 <- Sys.time()
  fit <- sampling(sm, data = s$data, chains = 4, cores = 2, iter = n_warm + n_draw, warmup = n_warm,
                  seed = s$seed, control = list(adapt_delta = 0.95), refresh = 0)
  t2 <- Sys.time()
  dr <- as_draws_array(as.array(fit))
  keep <- names(s$names); new <- unname(s$names)
  if (!is.null(s$re)) {
    keep <- c(keep, sprintf("%s[%d]", s$re$stan, seq_along(s$re$levels)))
    new <- c(new, re_names(s$re$group, s$re$levels))
  }
  dr <- subset_draws(dr, variable = keep)
  stopifnot(identical(variables(dr), keep))
  variables(dr) <- new
  su <- summarise_draws(dr, "mean", "sd", ~quantile2(.x, probs = c(0.05, 0.95)), "rhat",
                        "ess_bulk", "ess_tail", "mcse_mean", "mcse_sd")
  sp <- get_sampler_params(fit, inc_warmup = FALSE)
  diag <- list(
    divergences = sum(sapply(sp, function(x) sum(x[, "divergent__"]))),
    max_treedepth_hits = sum(sapply(sp, function(x) sum(x[, "treedepth__"] >= 10))),
    min_ebfmi = min(get_bfmi(fit)),
    max_rhat = max(su$rhat), min_ess_bulk = min(su$ess_bulk), min_ess_tail = min(su$ess_tail),
    mean_stepsize = mean(sapply(sp, function(x) x[1, "stepsize__"])))
  message(s$stan, ": ", format(round(difftime(t2, t1, units = "secs"), 1)), " sampling; ",
          paste(names(diag), signif(unlist(diag), 4), sep = "=", collapse = " "))
  if (!quick) stopifnot(diag$divergences == 0, diag$max_rhat < 1.01)
  c(list(
    data_file = s$data_file, formula = s$formula, model = s$model,
    stan_file = file.path("tests/reference/stan", s$stan), nobs = s$data$N,
    n_groups = if (is.null(s$re)) NULL else length(s$re$levels), seed = s$seed,
    sampler = list(chains = 4, warmup = n_warm, draws_per_chain = n_draw, adapt_delta = 0.95,
                   max_treedepth = 10, algorithm = "NUTS (rstan, diag_e)"),
    diagnostics = diag,
    seconds = list(compile = as.numeric(difftime(t1, t0, units = "secs")),
                   sample = as.numeric(difftime(t2, t1, units = "secs")))),
    s$extra,
    # I(): keep 1-element vectors as JSON arrays (meta_fixed has one parameter)
    list(summary = lapply(list(variable = su$variable, mean = su$mean, sd = su$sd, q5 = su$q5, q95 = su$q95,
                               rhat = su$rhat, ess_bulk = su$ess_bulk, ess_tail = su$ess_tail,
                               mcse_mean = su$mcse_mean, mcse_sd = su$mcse_sd), I))
  )
}

out <- lapply(specs, run_one)
cat(toJSON(list(
  source = paste("rstan", packageVersion("rstan"), "/ StanHeaders", packageVersion("StanHeaders"),
                 "/ posterior", packageVersion("posterior"), "on R", getRversion(), "; Debian packages"),
  summary_method = paste("posterior::summarise_draws: mean, sd, quantile2 q5/q95, rhat (rank-normalised",
                         "split R-hat), ess_bulk, ess_tail, mcse_mean, mcse_sd"),
  quick_run = quick,
  models = out
), digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"))
