# NUTS posterior references (rstan, plain Stan code in tests/reference/stan/*.stan) for five
# small real-data models with one grouping term (1 | g): negbinomial, student, beta,
# cumulative (logit) and gaussian with a model for log sigma.
# Run from /work/main:  Rscript tests/reference/stan_families.R > tests/reference/stan_families.json
#   (optional arguments: model names to run a subset, e.g. `... stan_families.R beta student`)
# Needs r-cran-rstan, r-cran-posterior, r-cran-jsonlite and libboost-dev (Debian packages; Debian's
#   r-cran-bh has no headers, so boost_lib is pointed at /usr/include below); 2 chains in parallel.
# Run time: about 4.5 minutes in all on 2 cores (~30 s compilation per model + 7-60 s sampling;
#   see "seconds" per model in the JSON).
#
# Sampling: 4 chains, 2,000 warmup + 10,000 post-warmup draws each (40,000 draws), adapt_delta 0.95,
#   fixed seed per model, default max_treedepth 10. Checked: 0 divergences, max R-hat < 1.01.
# Summaries: posterior::summarise_draws (package 'posterior'): mean, sd, q5, q95 (quantile2),
#   rhat, ess_bulk, ess_tail, mcse_mean, mcse_sd.
# Parameter names follow brms: b_<coef>, b_sigma_<coef>, sd_<group>__Intercept, Intercept[k],
#   sigma, shape, phi, nu, r_<group>[<level>,Intercept] (group-level effects, level = the data's
#   value of the grouping variable). Every model's math (likelihood, links, priors) is written out
#   in its "model" string. Random effects are sampled non-centred (r_j = sd * z_j, z_j ~ N(0,1)),
#   which is the same posterior for (b, sd, r, family parameters) as r_j ~ N(0, sd^2).
#   The intercept prior is on the intercept as written (column of ones in X), NOT on a
#   centred-predictor intercept as brms would do by default.
#   Half-distributions: "half-student_t(3, 0, s)" means student_t(3, 0, s) restricted to > 0.
#
# Data (the same files the Python tests read; grouping variables are factors with levels sorted
# numerically, the j-th level is index j):
#   negbinomial: tests/reference/data/epil.csv (MASS::epil): y ~ trt + lbase + (1 | subject),
#                trt treatment-coded (reference placebo -> b_trtprogabide), lbase as in the file.
#   student, gaussian_sigma: ../shared/data/teaching/sleepstudy.csv: Reaction ~ Days + (1 | Subject)
#   beta: tests/reference/data/GasolineYield.csv: yield ~ ctemp + (1 | batch), ctemp = (temp - 300)/100
#   cumulative: tests/reference/data/wine.csv: rating (1..5) ~ temp + contact + (1 | judge),
#                temp reference cold (b_tempwarm), contact reference no (b_contactyes).
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
rd <- function(f) read.csv(file.path("..", "shared", "data", "teaching", f))
rl <- function(f) read.csv(file.path(here, "data", f))
grp <- function(x) factor(x, levels = sort(unique(x)))

sleep <- rd("sleepstudy.csv"); sleep$Subject <- grp(sleep$Subject)
epil <- rl("epil.csv"); epil$subject <- grp(epil$subject)
gas <- rl("GasolineYield.csv"); gas$batch <- grp(gas$batch)
wine <- rl("wine.csv"); wine$judge <- grp(wine$judge)

specs <- list(
  negbinomial = list(
    stan = "negbinomial.stan", seed = 101, data_file = "tests/reference/data/epil.csv",
    formula = "y ~ trt + lbase + (1 | subject)", group = "subject", levels = levels(epil$subject),
    data = list(N = nrow(epil), K = 3, J = nlevels(epil$subject), y = epil$y,
                X = cbind(1, epil$trt == "progabide", epil$lbase), g = as.integer(epil$subject)),
    names = c(`b[1]` = "b_Intercept", `b[2]` = "b_trtprogabide", `b[3]` = "b_lbase",
              sd_g = "sd_subject__Intercept", shape = "shape"),
    model = paste(
      "y_i ~ NegBinomial2(mean mu_i, shape), var = mu_i + mu_i^2/shape (Stan neg_binomial_2_log);",
      "log(mu_i) = b_Intercept + b_trtprogabide*[trt_i == progabide] + b_lbase*lbase_i + r_subject[subject_i];",
      "r_subject[j] ~ normal(0, sd_subject__Intercept) iid;",
      "priors: b_Intercept, b_trtprogabide, b_lbase ~ normal(0, 5) each;",
      "sd_subject__Intercept ~ half-student_t(3, 0, 2.5); shape ~ gamma(0.01, 0.01) (shape, rate)")),
  student = list(
    stan = "student.stan", seed = 202, data_file = "../shared/data/teaching/sleepstudy.csv",
    formula = "Reaction ~ Days + (1 | Subject)", group = "Subject", levels = levels(sleep$Subject),
    data = list(N = nrow(sleep), K = 2, J = nlevels(sleep$Subject), y = sleep$Reaction,
                X = cbind(1, sleep$Days), g = as.integer(sleep$Subject)),
    names = c(`b[1]` = "b_Intercept", `b[2]` = "b_Days", sd_g = "sd_Subject__Intercept",
              sigma = "sigma", nu = "nu"),
    model = paste(
      "Reaction_i ~ student_t(nu, mu_i, sigma) (location-scale t: mu_i + sigma*T_nu);",
      "mu_i = b_Intercept + b_Days*Days_i + r_Subject[Subject_i]; r_Subject[j] ~ normal(0, sd_Subject__Intercept) iid;",
      "priors: b_Intercept ~ normal(250, 100); b_Days ~ normal(0, 20);",
      "sd_Subject__Intercept ~ half-student_t(3, 0, 50); sigma ~ half-student_t(3, 0, 50);",
      "nu ~ gamma(2, 0.1) (shape, rate) restricted to nu >= 1 (lower bound 1 as in brms).",
      "Note: the likelihood is nearly flat in large nu here (ML df -> infinity for this model), so the",
      "posterior of nu is strongly shaped by its prior.")),
  beta = list(
    stan = "beta.stan", seed = 303, data_file = "tests/reference/data/GasolineYield.csv",
    formula = "yield ~ ctemp + (1 | batch)", group = "batch", levels = levels(gas$batch),
    data = list(N = nrow(gas), K = 2, J = nlevels(gas$batch), y = gas$yield,
                X = cbind(1, gas$ctemp), g = as.integer(gas$batch)),
    names = c(`b[1]` = "b_Intercept", `b[2]` = "b_ctemp", sd_g = "sd_batch__Intercept", phi = "phi"),
    model = paste(
      "yield_i ~ Beta(mu_i*phi, (1 - mu_i)*phi) (mean mu_i, precision phi, var = mu(1-mu)/(1+phi));",
      "logit(mu_i) = b_Intercept + b_ctemp*ctemp_i + r_batch[batch_i], ctemp = (temp - 300)/100;",
      "r_batch[j] ~ normal(0, sd_batch__Intercept) iid;",
      "priors: b_Intercept, b_ctemp ~ normal(0, 5) each; sd_batch__Intercept ~ half-student_t(3, 0, 2.5);",
      "phi ~ gamma(0.01, 0.01) (shape, rate)")),
  cumulative = list(
    stan = "cumulative.stan", seed = 404, data_file = "tests/reference/data/wine.csv",
    formula = "rating ~ temp + contact + (1 | judge)", group = "judge", levels = levels(wine$judge),
    data = list(N = nrow(wine), K = 2, ncat = 5, J = nlevels(wine$judge), y = wine$rating,
                X = cbind(wine$temp == "warm", wine$contact == "yes"), g = as.integer(wine$judge)),
    names = c(`c[1]` = "Intercept[1]", `c[2]` = "Intercept[2]", `c[3]` = "Intercept[3]",
              `c[4]` = "Intercept[4]", `b[1]` = "b_tempwarm", `b[2]` = "b_contactyes",
              sd_g = "sd_judge__Intercept"),
    model = paste(
      "cumulative logit: P(rating_i <= k) = inv_logit(Intercept[k] - eta_i), k = 1..4,",
      "P(rating_i = k) = P(<= k) - P(<= k-1) (Stan ordered_logistic(eta_i, Intercept));",
      "eta_i = b_tempwarm*[temp_i == warm] + b_contactyes*[contact_i == yes] + r_judge[judge_i] (no intercept);",
      "r_judge[j] ~ normal(0, sd_judge__Intercept) iid;",
      "Intercept[1] < Intercept[2] < Intercept[3] < Intercept[4] (ordered);",
      "priors: Intercept[k] ~ normal(0, 5) each (joint density proportional to the product, on the ordered set);",
      "b_tempwarm, b_contactyes ~ normal(0, 5); sd_judge__Intercept ~ half-student_t(3, 0, 2.5)")),
  gaussian_sigma = list(
    stan = "gaussian_sigma.stan", seed = 505, data_file = "../shared/data/teaching/sleepstudy.csv",
    formula = "bf(Reaction ~ Days + (1 | Subject), sigma ~ Days)", group = "Subject",
    levels = levels(sleep$Subject),
    data = list(N = nrow(sleep), K = 2, Ks = 2, J = nlevels(sleep$Subject), y = sleep$Reaction,
                X = cbind(1, sleep$Days), Xs = cbind(1, sleep$Days), g = as.integer(sleep$Subject)),
    names = c(`b[1]` = "b_Intercept", `b[2]` = "b_Days", `bs[1]` = "b_sigma_Intercept",
              `bs[2]` = "b_sigma_Days", sd_g = "sd_Subject__Intercept"),
    model = paste(
      "Reaction_i ~ normal(mu_i, sigma_i); mu_i = b_Intercept + b_Days*Days_i + r_Subject[Subject_i];",
      "log(sigma_i) = b_sigma_Intercept + b_sigma_Days*Days_i (log link on the SD);",
      "r_Subject[j] ~ normal(0, sd_Subject__Intercept) iid;",
      "priors: b_Intercept ~ normal(250, 100); b_Days ~ normal(0, 20); b_sigma_Intercept ~ normal(0, 5);",
      "b_sigma_Days ~ normal(0, 1); sd_Subject__Intercept ~ half-student_t(3, 0, 50)"))
)
if (length(args)) specs <- specs[args]

run_one <- function(s) {
  t0 <- Sys.time()
  sm <- stan_model(file.path(here, "stan", s$stan), model_name = sub("\\.stan$", "", s$stan))
  t1 <- Sys.time()
  fit <- sampling(sm, data = s$data, chains = 4, cores = 2, iter = n_warm + n_draw, warmup = n_warm,
                  seed = s$seed, control = list(adapt_delta = 0.95), refresh = 0)
  t2 <- Sys.time()
  dr <- as_draws_array(as.array(fit))
  keep <- c(names(s$names), paste0("r[", seq_along(s$levels), "]"))
  dr <- subset_draws(dr, variable = keep)
  new <- c(unname(s$names), sprintf("r_%s[%s,Intercept]", s$group, s$levels))
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
  list(
    data_file = s$data_file, formula = s$formula, model = s$model,
    stan_file = file.path("tests/reference/stan", s$stan), nobs = s$data$N,
    n_groups = length(s$levels), seed = s$seed,
    sampler = list(chains = 4, warmup = n_warm, draws_per_chain = n_draw, adapt_delta = 0.95,
                   max_treedepth = 10, algorithm = "NUTS (rstan, diag_e)"),
    diagnostics = diag,
    seconds = list(compile = as.numeric(difftime(t1, t0, units = "secs")),
                   sample = as.numeric(difftime(t2, t1, units = "secs"))),
    summary = list(variable = su$variable, mean = su$mean, sd = su$sd, q5 = su$q5, q95 = su$q95,
                   rhat = su$rhat, ess_bulk = su$ess_bulk, ess_tail = su$ess_tail,
                   mcse_mean = su$mcse_mean, mcse_sd = su$mcse_sd)
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
