// Gaussian LMM with a linear model for log sigma: y ~ X b + (1 | g), log(sigma_i) = Xs_i bs
// y_i ~ normal(mu_i, sigma_i), mu_i = X_i b + r[g_i], sigma_i = exp(Xs_i bs); r_j = sd_g * z_j, z_j ~ N(0, 1)
// priors: b[1] (intercept) ~ normal(250, 100); b[2] (Days) ~ normal(0, 20);
//         bs[1] (b_sigma_Intercept) ~ normal(0, 5); bs[2] (b_sigma_Days) ~ normal(0, 1);
//         sd_g ~ half-student_t(3, 0, 50)
data {
  int<lower=1> N; int<lower=1> K; int<lower=1> Ks; int<lower=1> J;
  vector[N] y; matrix[N, K] X; matrix[N, Ks] Xs; int<lower=1, upper=J> g[N];
}
parameters {
  vector[K] b; vector[Ks] bs; real<lower=0> sd_g; vector[J] z;
}
transformed parameters {
  vector[J] r = sd_g * z;
}
model {
  b[1] ~ normal(250, 100);
  b[2] ~ normal(0, 20);
  bs[1] ~ normal(0, 5);
  bs[2] ~ normal(0, 1);
  sd_g ~ student_t(3, 0, 50);
  z ~ std_normal();
  y ~ normal(X * b + r[g], exp(Xs * bs));
}
