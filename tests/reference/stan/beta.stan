// Beta GLMM, logit link (brms parametrisation): y ~ X b + (1 | g)
// y_i ~ Beta(mu_i * phi, (1 - mu_i) * phi), mu_i = inv_logit(X_i b + r[g_i]); var = mu(1-mu)/(1+phi)
// r_j = sd_g * z_j, z_j ~ N(0, 1)
// priors: b_k ~ normal(0, 5) (intercept included); sd_g ~ half-student_t(3, 0, 2.5);
//         phi ~ gamma(0.01, 0.01) (shape, rate)
data {
  int<lower=1> N; int<lower=1> K; int<lower=1> J;
  vector<lower=0, upper=1>[N] y; matrix[N, K] X; int<lower=1, upper=J> g[N];
}
parameters {
  vector[K] b; real<lower=0> sd_g; vector[J] z; real<lower=0> phi;
}
transformed parameters {
  vector[J] r = sd_g * z;
}
model {
  vector[N] mu = inv_logit(X * b + r[g]);
  b ~ normal(0, 5);
  sd_g ~ student_t(3, 0, 2.5);
  phi ~ gamma(0.01, 0.01);
  z ~ std_normal();
  y ~ beta(mu * phi, (1 - mu) * phi);
}
