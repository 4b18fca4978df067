// Random-effects meta-analysis with known standard errors: brms yi | se(sei) ~ X + (1 | trial)
// (one row per trial, so this equals yi | se(sei, sigma = TRUE) ~ X with sigma = sd_trial = tau)
// y_i ~ normal(X_i b + r[i], se_i), se_i known; r_i = sd_trial * z_i, z_i ~ N(0, 1)
//   (i.e. r_i ~ N(0, sd_trial^2); non-centred only for sampling)   (see stan_missing.R for data and naming)
// priors: b[1] (intercept column of ones) ~ normal(0, 1); b[k], k > 1 ~ normal(0, 1);
//         sd_trial ~ half-student_t(3, 0, 1)
data {
  int<lower=1> N; int<lower=1> K; vector[N] y; vector<lower=0>[N] se; matrix[N, K] X;
}
parameters {
  vector[K] b; real<lower=0> sd_trial; vector[N] z;
}
transformed parameters {
  vector[N] r = sd_trial * z;
}
model {
  b ~ normal(0, 1);
  sd_trial ~ student_t(3, 0, 1);
  z ~ std_normal();
  y ~ normal(X * b + r, se);
}
