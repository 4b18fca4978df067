// Imputation during model fitting (brms missing-data vignette, no interaction):
//   brms: bf(bmi | mi() ~ age + mi(chl)) + bf(chl | mi() ~ age) + set_rescor(FALSE)   (see stan_missing.R)
// bmi_i ~ normal(b_bmi_Intercept + b_bmi_age * age_i + b_bmi_chl * chl_i, sigma_bmi)
// chl_i ~ normal(b_chl_Intercept + b_chl_age * age_i, sigma_chl)
// missing bmi_i / chl_i are parameters Ymi_bmi[k] / Ymi_chl[k] (k-th missing row, in row order);
// age numeric (1, 2, 3) as in the data; hyp is not used.
// priors: b_bmi_Intercept ~ normal(27, 10); b_bmi_age ~ normal(0, 10); b_bmi_chl ~ normal(0, 10);
//         b_chl_Intercept ~ normal(190, 100); b_chl_age ~ normal(0, 50);
//         sigma_bmi, sigma_chl ~ half-student_t(3, 0, 20); no extra prior on Ymi_* (flat; the likelihood above).
data {
  int<lower=1> N; vector[N] age;
  int<lower=0> Nmi_bmi; int<lower=1, upper=N> Jmi_bmi[Nmi_bmi]; vector[N] bmi_obs;  // bmi_obs: any value at missing rows
  int<lower=0> Nmi_chl; int<lower=1, upper=N> Jmi_chl[Nmi_chl]; vector[N] chl_obs;
}
parameters {
  real b_bmi_Intercept; real b_bmi_age; real b_bmi_chl; real<lower=0> sigma_bmi;
  real b_chl_Intercept; real b_chl_age; real<lower=0> sigma_chl;
  vector[Nmi_bmi] Ymi_bmi; vector[Nmi_chl] Ymi_chl;
}
model {
  vector[N] bmi = bmi_obs;
  vector[N] chl = chl_obs;
  bmi[Jmi_bmi] = Ymi_bmi;
  chl[Jmi_chl] = Ymi_chl;
  b_bmi_Intercept ~ normal(27, 10);
  b_bmi_age ~ normal(0, 10);
  b_bmi_chl ~ normal(0, 10);
  b_chl_Intercept ~ normal(190, 100);
  b_chl_age ~ normal(0, 50);
  sigma_bmi ~ student_t(3, 0, 20);
  sigma_chl ~ student_t(3, 0, 20);
  chl ~ normal(b_chl_Intercept + b_chl_age * age, sigma_chl);
  bmi ~ normal(b_bmi_Intercept + b_bmi_age * age + b_bmi_chl * chl, sigma_bmi);
}
