// NB2 GLMM, log link, one grouping term: y ~ X b + (1 | g)   (see stan_families.R for data and naming)
// y_i ~ NegBinomial2(mu_i, shape), mu_i = exp(X_i b + r[g_i]), var = mu + mu^2/shape
// r_j = sd_g * z_j, z_j ~ N(0, 1)   (i.e. r_j ~ N(0, sd_g^2); non-centred only for sampling)
// priors: b_k ~ normal(0, 5) for every column of X INCLUDING the intercept column;
//         sd_g ~ half-student_t(3, 0, 2.5); shape ~ gamma(0.01, 0.01) (shape, rate)
data {
  int<lower=1> N; int<lower=1> K; int<lower=1> J;
  int<lower=0> y[N]; matrix[N, K] X; int<lower=1, upper=J> g[N];
}
parameters {
  vector[K] b; real<lower=0> sd_g; vector[J] z; real<lower=0> shape;
}
transformed parameters {
  vector[J] r = sd_g * z;
}
model {
  b ~ normal(0, 5);
  sd_g ~ student_t(3, 0, 2.5);
  shape ~ gamma(0.01, 0.01);
  z ~ std_normal();
  y ~ neg_binomial_2_log(X * b + r[g], shape);
}
