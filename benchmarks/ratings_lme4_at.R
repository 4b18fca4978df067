# lme4's REML criterion of rating ~ 1 + (1 | user) + (1 | item) at a given theta (lme4's relative
# sds, user's first: lme4 orders the terms by decreasing number of levels), from
# lmer(..., devFunOnly = TRUE): the objective itself compared at hierax's estimates, without the
# hour lme4's optimiser takes on a million ratings. Times lme4's set-up and its one evaluation.
# Usage: Rscript benchmarks/ratings_lme4_at.R DATA.csv THETA_USER THETA_ITEM   (prints one JSON object)
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript benchmarks/ratings_lme4_at.R DATA.csv THETA_USER THETA_ITEM")
d <- as.data.frame(data.table::fread(args[1], select = c("rating", "user", "item")))
d$user <- factor(d$user)
d$item <- factor(d$item)
t0 <- proc.time()[["elapsed"]]
devfun <- lmer(rating ~ 1 + (1 | user) + (1 | item), data = d, REML = TRUE, devFunOnly = TRUE)
t1 <- proc.time()[["elapsed"]]
theta <- as.numeric(args[2:3])
value <- devfun(theta)
t2 <- proc.time()[["elapsed"]]
cat(toJSON(list(lme4 = as.character(packageVersion("lme4")), theta = theta, REMLcrit = value,
                setup_seconds = t1 - t0, evaluation_seconds = t2 - t1), digits = NA, auto_unbox = TRUE), "\n")
