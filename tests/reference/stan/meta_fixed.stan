// Fixed-effect ("common effect") meta-analysis with known standard errors: brms yi | se(sei) ~ 1
// y_i ~ normal(b_Intercept, se_i), se_i known (no extra residual sd)   (see stan_missing.R for data and naming)
// prior: b_Intercept ~ normal(0, 1)
data {
  int<lower=1> N; vector[N] y; vector<lower=0>[N] se;
}
parameters {
  real b_Intercept;
}
model {
  b_Intercept ~ normal(0, 1);
  y ~ normal(b_Intercept, se);
}
