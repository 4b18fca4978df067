// Student-t LMM, identity link: y ~ X b + (1 | g)
// y_i ~ student_t(nu, mu_i, sigma), mu_i = X_i b + r[g_i]; r_j = sd_g * z_j, z_j ~ N(0, 1)
// priors: b[1] (intercept) ~ normal(250, 100); b[2] (Days) ~ normal(0, 20);
//         sd_g ~ half-student_t(3, 0, 50); sigma ~ half-student_t(3, 0, 50);
//         nu ~ gamma(2, 0.1) restricted to nu >= 1 (as brms; truncation constant not included)
data {
  int<lower=1> N; int<lower=1> K; int<lower=1> J;
  vector[N] y; matrix[N, K] X; int<lower=1, upper=J> g[N];
}
parameters {
  vector[K] b; real<lower=0> sd_g; vector[J] z; real<lower=0> sigma; real<lower=1> nu;
}
transformed parameters {
  vector[J] r = sd_g * z;
}
model {
  b[1] ~ normal(250, 100);
  b[2] ~ normal(0, 20);
  sd_g ~ student_t(3, 0, 50);
  sigma ~ student_t(3, 0, 50);
  nu ~ gamma(2, 0.1);
  z ~ std_normal();
  y ~ student_t(nu, X * b + r[g], sigma);
}
