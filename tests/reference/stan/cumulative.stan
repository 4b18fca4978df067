// Cumulative logit mixed model (brms cumulative("logit") convention): y ~ X b + (1 | g), X WITHOUT intercept
// P(y_i <= k) = inv_logit(c_k - eta_i), eta_i = X_i b + r[g_i], k = 1..K-1, c_1 < ... < c_{K-1}
// (Stan's ordered_logistic(eta, c) is exactly this model)
// r_j = sd_g * z_j, z_j ~ N(0, 1)
// priors: c_k ~ normal(0, 5) each, on the ordered vector (density proportional to the product of
//         the normals restricted to c_1 < ... < c_{K-1}); b_k ~ normal(0, 5); sd_g ~ half-student_t(3, 0, 2.5)
data {
  int<lower=1> N; int<lower=1> K; int<lower=2> ncat; int<lower=1> J;
  int<lower=1, upper=ncat> y[N]; matrix[N, K] X; int<lower=1, upper=J> g[N];
}
parameters {
  ordered[ncat - 1] c; vector[K] b; real<lower=0> sd_g; vector[J] z;
}
transformed parameters {
  vector[J] r = sd_g * z;
}
model {
  c ~ normal(0, 5);
  b ~ normal(0, 5);
  sd_g ~ student_t(3, 0, 2.5);
  z ~ std_normal();
  y ~ ordered_logistic(X * b + r[g], c);
}
