// Weibull frailty model with right censoring, brms parametrisation (family = weibull(), log link on the MEAN):
//   brms: time | cens(1 - status) ~ sex + (1 | id), sex coded [sex == 2]   (see stan_missing.R)
// time_i ~ Weibull(shape k, scale lambda_i), lambda_i = exp(eta_i) / tgamma(1 + 1/k)  (so E[time_i] = exp(eta_i))
// eta_i = b_Intercept + b_sex * x_i + r[id_i], x_i = [sex_i == 2]; r_j = sd_id * z_j, z_j ~ N(0, 1)
// status_i = 1: event, contributes weibull_lpdf(time_i | k, lambda_i);
// status_i = 0: right-censored (event after time_i), contributes weibull_lccdf(time_i | k, lambda_i)
// priors: b_Intercept ~ student_t(3, 4.6, 2.5) (4.6 ~ log(mean(time)) = 4.62); b_sex ~ normal(0, 2.5);
//         sd_id ~ half-student_t(3, 0, 1); shape k ~ gamma(0.01, 0.01) (shape, rate)
data {
  int<lower=1> N; int<lower=1> J; vector<lower=0>[N] time; int<lower=0, upper=1> status[N];
  vector[N] x; int<lower=1, upper=J> g[N];
}
parameters {
  real b_Intercept; real b_sex; real<lower=0> sd_id; vector[J] z; real<lower=0> shape;
}
transformed parameters {
  vector[J] r = sd_id * z;
}
model {
  vector[N] eta = b_Intercept + b_sex * x + r[g];
  real lg = lgamma(1 + 1 / shape);
  b_Intercept ~ student_t(3, 4.6, 2.5);
  b_sex ~ normal(0, 2.5);
  sd_id ~ student_t(3, 0, 1);
  shape ~ gamma(0.01, 0.01);
  z ~ std_normal();
  for (i in 1:N) {
    real lambda = exp(eta[i] - lg);
    if (status[i] == 1) target += weibull_lpdf(time[i] | shape, lambda);
    else target += weibull_lccdf(time[i] | shape, lambda);
  }
}
