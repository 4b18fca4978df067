# lmerTest's anova tables (type III, and type I) with Satterthwaite's and Kenward-Roger's denominator
# df, for hierax's anova tests (hierax.results.anova, tests/results/test_anova.py).
#
# Models (lme4::lmer, REML = TRUE unless said, fitted to convergence with
# lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)); every fit's lme4 convergence
# messages are recorded in "messages" and must be empty, "singular" must be false):
# 1. cake:          angle ~ recipe * temp + (1 | recipe:replicate), lme4's cake with temp an UNORDERED
#                   factor (6 levels 175..225; lme4 ships it as the ordered factor "temperature", whose
#                   default coding is contr.poly: not used); balanced, 270 rows.
# 2. cake_nested:   angle ~ recipe + recipe:temp + (1 | recipe:replicate): temp nested in recipe, no temp
#                   main effect. R codes recipe:temp with recipe by indicators (its factors attribute is 2
#                   for recipe there), so lmerTest's containment does not count recipe as contained in
#                   recipe:temp (it compares only the variables coded by contrasts): recipe is tested at
#                   the first temperature, not averaged over the temperatures (see the hypotheses).
# 3. co2:           uptake ~ conc * Type + Treatment + (1 | Plant), R's datasets::CO2 (84 rows, 12
#                   plants): a numeric covariate interacting with a factor, and a second factor's main effect.
# 4. co2_threeway:  uptake ~ conc * Type * Treatment + (1 | Plant): a three-way term with a numeric.
# 5. assay:         logDens ~ sample * dilut + (1 | Block) + (1 | Block:sample) + (1 | Block:dilut),
#                   nlme's Assay (60 rows, a split-block design: Block:sample and Block:dilut crossed).
# 6. grouseticks:   log(TICKS + 1) ~ YEAR * cHEIGHT + (1 | BROOD) + (1 | LOCATION), crossed and unbalanced
#                   (403 rows; YEAR a factor, levels 95, 96, 97).
# 7. grouseticks_year97: the same with YEAR's levels ordered 97, 95, 96 (reference level 97). lmerTest's
#                   Satterthwaite DenDF of a term of more than one df depends on the hypothesis' rows (its
#                   F test rotates them by the eigenvectors of L vcov L'), and its type III rows follow the
#                   treatment coding's reference levels: YEAR's and YEAR:cHEIGHT's DenDF change (105.64 ->
#                   105.36), F, Sum Sq and Kenward-Roger's numbers do not. (contr.sum gives the same as
#                   contr.treatment with the same level order: lmerTest builds the type III hypotheses in
#                   the treatment coding and maps them.)
# 8. grouseticks_year_only: log(TICKS + 1) ~ YEAR + (1 | BROOD) + (1 | LOCATION): a single term, for which
#                   lmerTest's type III table uses the type I (sequential) hypothesis rows.
# 9. chickweight_no_intercept: weight ~ 0 + Diet + Diet:Time + (1 | Chick) (no intercept; Time only in
#                   the interaction).
# 10. co2_ml:        model 3 fitted by ML (REML = FALSE): Satterthwaite only (Kenward-Roger needs REML).
#
# Data: written by this script to data/ (rerunning rewrites them identically) and read back, so that R
# and hierax fit the same numbers: data/cake.csv (lme4::cake: replicate, recipe, temp, angle; the
# ordered "temperature" column dropped), data/CO2.csv (datasets::CO2: Plant, Type, Treatment as text,
# conc, uptake), data/Assay.csv (nlme::Assay: Block, sample, dilut as text, logDens). grouseticks and
# ChickWeight are read from ../../../shared/data/teaching/. Every factor is made with factor() after
# read.csv, so its levels are sorted (as hierax sorts text levels); numbers written as levels (temp, dilut,
# Block, YEAR, Diet, replicate, Chick) are factors in R and text in hierax.
#
# Parametrisation: contr.treatment (R's default, first level the reference); coefficients are named as
# lme4 names them ("recipeB:temp185"); hierax writes "recipe[B]:temp[185]". theta is lme4's relative
# Cholesky factor (getME(m, "theta")), sigma the residual sd, reml_criterion REMLcrit(m) (-2 REML
# log-likelihood; for co2_ml "deviance" is deviance(m), -2 log-likelihood).
#
# Tables: lmerTest::anova(as_lmerModLmerTest(m), type = 3 | 1, ddf = "Satterthwaite" | "Kenward-Roger"),
# one entry per term in the table's order: terms, sum_sq, mean_sq, num_df, den_df, F, p. lmerTest
# (contestMD) computes Mean Sq = F * sigma^2 and Sum Sq = Mean Sq * NumDF; under Kenward-Roger the F in
# Mean Sq is pbkrtest's unscaled Wald F (FtestU, with the adjusted covariance vcovAdj) and "F value" is
# that times pbkrtest's F.scaling. "hypotheses_type3" and "hypotheses_type1" are the tables' L matrices
# (attr(table, "hypotheses"): per term, a list of rows over the coefficients in fixef order, as lmerTest
# rounds them with zapsmall, 7 significant digits).
#
# Reproducibility: rerunning gives identical output except assay, whose bobyqa endpoint varies between
# processes (theta to ~1e-6 relative; F, DenDF and p to ~1e-6): compare with rtol >= 1e-5.
# Run from tests/reference: Rscript anova_type3.R > anova_type3.json
# (needs r-cran-lme4, r-cran-lmertest, r-cran-pbkrtest, r-cran-jsonlite; Debian bookworm's R 4.2.2)
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite)})
teach <- function(f) read.csv(file.path("..", "..", "..", "shared", "data", "teaching", f))

## data: written once from R's copies, read back
data(cake, package = "lme4")
data(Assay, package = "nlme")
write.csv(data.frame(replicate = as.integer(as.character(cake$replicate)), recipe = as.character(cake$recipe),
                     temp = cake$temp, angle = cake$angle), file.path("data", "cake.csv"), row.names = FALSE)
write.csv(data.frame(Plant = as.character(CO2$Plant), Type = as.character(CO2$Type),
                     Treatment = as.character(CO2$Treatment), conc = CO2$conc, uptake = CO2$uptake),
          file.path("data", "CO2.csv"), row.names = FALSE)
write.csv(data.frame(Block = as.character(Assay$Block), sample = as.character(Assay$sample),
                     dilut = as.character(Assay$dilut), logDens = Assay$logDens),
          file.path("data", "Assay.csv"), row.names = FALSE)
factors <- function(d, columns) { for (k in columns) d[[k]] <- factor(d[[k]]); d }
cake <- factors(read.csv(file.path("data", "cake.csv")), c("replicate", "recipe", "temp"))
co2 <- factors(read.csv(file.path("data", "CO2.csv")), c("Plant", "Type", "Treatment"))
assay <- factors(read.csv(file.path("data", "Assay.csv")), c("Block", "sample", "dilut"))
grouse <- factors(teach("grouseticks.csv"), c("YEAR", "BROOD", "LOCATION"))
grouse97 <- grouse; grouse97$YEAR <- factor(grouse97$YEAR, levels = c("97", "95", "96"))
chick <- factors(teach("ChickWeight.csv"), c("Chick", "Diet"))

lctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
models <- list(
  cake = list(angle ~ recipe * temp + (1 | recipe:replicate), "cake", "cake.csv"),
  cake_nested = list(angle ~ recipe + recipe:temp + (1 | recipe:replicate), "cake", "cake.csv"),
  co2 = list(uptake ~ conc * Type + Treatment + (1 | Plant), "co2", "CO2.csv"),
  co2_threeway = list(uptake ~ conc * Type * Treatment + (1 | Plant), "co2", "CO2.csv"),
  assay = list(logDens ~ sample * dilut + (1 | Block) + (1 | Block:sample) + (1 | Block:dilut), "assay", "Assay.csv"),
  grouseticks = list(log(TICKS + 1) ~ YEAR * cHEIGHT + (1 | BROOD) + (1 | LOCATION), "grouse",
                     "shared/data/teaching/grouseticks.csv"),
  grouseticks_year97 = list(log(TICKS + 1) ~ YEAR * cHEIGHT + (1 | BROOD) + (1 | LOCATION), "grouse97",
                            "shared/data/teaching/grouseticks.csv, YEAR levels 97, 95, 96"),
  grouseticks_year_only = list(log(TICKS + 1) ~ YEAR + (1 | BROOD) + (1 | LOCATION), "grouse",
                               "shared/data/teaching/grouseticks.csv"),
  chickweight_no_intercept = list(weight ~ 0 + Diet + Diet:Time + (1 | Chick), "chick",
                                  "shared/data/teaching/ChickWeight.csv"),
  co2_ml = list(uptake ~ conc * Type + Treatment + (1 | Plant), "co2", "CO2.csv"))

anovatab <- function(a) {
  a <- as.data.frame(a)
  list(terms = rownames(a), sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]], num_df = a[["NumDF"]],
       den_df = a[["DenDF"]], F = a[["F value"]], p = a[["Pr(>F)"]])
}
rows <- function(M) unname(lapply(seq_len(nrow(M)), function(i) unname(as.numeric(M[i, ]))))
hypotheses <- function(a) lapply(attr(a, "hypotheses"), rows)
tables <- function(mt, type, methods) {
  out <- list()
  for (dd in methods) {
    a <- anova(mt, type = type, ddf = dd)
    out[[if (dd == "Satterthwaite") "satterthwaite" else "kenward_roger"]] <- anovatab(a)
    out$hypotheses <- hypotheses(a)
  }
  out
}

out <- list(source = paste0(
  "R ", getRversion(), "; lme4 ", packageVersion("lme4"), ", Matrix ", packageVersion("Matrix"),
  ", lmerTest ", packageVersion("lmerTest"), ", pbkrtest ", packageVersion("pbkrtest"),
  ", jsonlite ", packageVersion("jsonlite"), "; lmer bobyqa maxfun 1e5; contr.treatment"))
for (name in names(models)) {
  spec <- models[[name]]
  reml <- name != "co2_ml"
  m <- eval(bquote(lme4::lmer(.(spec[[1]]), data = .(as.name(spec[[2]])), REML = .(reml), control = lctrl)))
  mt <- as_lmerModLmerTest(m)
  methods <- if (reml) c("Satterthwaite", "Kenward-Roger") else "Satterthwaite"
  t3 <- tables(mt, 3, methods)
  t1 <- tables(mt, 1, methods)
  res <- list(
    formula = paste(deparse(formula(m), width.cutoff = 500), collapse = " "), data = spec[[3]],
    REML = reml, nobs = nobs(m), ngroups = as.list(ngrps(m)),
    messages = as.character(unlist(m@optinfo$conv$lme4$messages)),
    optimizer_code = m@optinfo$conv$opt, singular = isSingular(m),
    fixef = list(names = names(fixef(m)), estimate = unname(fixef(m))),
    theta = unname(getME(m, "theta")), sigma = sigma(m))
  if (reml) res$reml_criterion <- as.numeric(REMLcrit(m)) else res$deviance <- deviance(m)
  res$anova_type3 <- t3[names(t3) != "hypotheses"]
  res$anova_type1 <- t1[names(t1) != "hypotheses"]
  res$hypotheses_type3 <- t3$hypotheses
  res$hypotheses_type1 <- t1$hypotheses
  out[[name]] <- res
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
