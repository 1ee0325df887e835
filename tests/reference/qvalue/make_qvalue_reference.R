# Reference q-values and pi0 estimates of R's qvalue (Storey), for tests/core/test_qvalue.py.
# Run from this directory:  Rscript make_qvalue_reference.R
# Writes <set>.tsv (p, qvalue; NA where p is NA), pi0.tsv (one row per set: pi0 and the
# smoothed pi0 at each lambda), and smooth_spline.tsv (smooth.spline(x, y, df = 3) fits).
suppressPackageStartupMessages(library(qvalue))
fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
sets <- list()
set.seed(20261207)
sets$uniform <- runif(1000)
sets$mixture_pi0_80 <- c(runif(1600), rbeta(400, 0.2, 5))
sets$mixture_pi0_30 <- c(runif(300), rbeta(700, 0.1, 8))
# an excess of large p-values: the smoothed pi0 at lambda = 0.95 exceeds 1, so pi0 is capped at 1
sets$spline_above_one <- c(runif(300), 1 - rbeta(200, 1, 12))
# ties: p-values rounded to two decimals, some exactly 1, and repeated small values
sets$ties <- c(round(c(runif(400), rbeta(100, 0.3, 6)), 2), rep(1, 20), rep(1e-4, 5))
# small m (the largest p-value must exceed the largest lambda, 0.95)
sets$small_m <- c(0.001, 0.004, 0.02, 0.03, 0.2, 0.35, 0.5, 0.61, 0.8, 0.97)
# missing p-values are left out and get NA
sets$with_na <- c(runif(150), rbeta(50, 0.2, 4), NA, NA, NA)
for (name in names(sets)) {
  p <- sets[[name]]
  q <- qvalue(p)
  write.table(data.frame(p = fmt(p), qvalue = fmt(q$qvalues)), paste0(name, ".tsv"),
              sep = "\t", quote = FALSE, row.names = FALSE)
}
# m = 20,000 from a formula that R and numpy evaluate alike (no stored p-values):
# u_i = frac(i * 0.6180339887498949), i = 1..20000; p_i = u_i^6 for every tenth i, else u_i.
i <- 1:20000
u <- (i * 0.6180339887498949) %% 1
large <- ifelse(i %% 10 == 0, u * u * u * u * u * u, u)
sets$large_formula <- large
ql <- qvalue(large)
keep <- sort(unique(c(seq(1, 20000, by = 37), order(large)[1:300])))
write.table(data.frame(index = keep, p = fmt(large[keep]), qvalue = fmt(ql$qvalues[keep])),
            "large_formula.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
lambda <- seq(0.05, 0.95, 0.05)
rows <- lapply(names(sets), function(name) {
  e <- pi0est(sets[[name]][!is.na(sets[[name]])])
  c(set = name, pi0 = fmt(e$pi0), setNames(fmt(e$pi0.smooth), sprintf("smooth_%.2f", lambda)))
})
write.table(do.call(rbind, rows), "pi0.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
# smooth.spline(x, y, df = 3) alone: spar, lambda, df and the fitted values at x
fits <- list()
set.seed(7)
xs <- list(seq(0.05, 0.95, 0.05), seq(0, 1, length.out = 5), c(0, 0.1, 0.15, 0.5, 0.55, 0.9, 1),
           sort(runif(30)))
for (k in seq_along(xs)) {
  x <- xs[[k]]
  y <- sin(3 * x) + rnorm(length(x), sd = 0.2)
  s <- smooth.spline(x, y, df = 3)
  fits[[k]] <- data.frame(case = k, x = fmt(x), y = fmt(y), fitted = fmt(predict(s, x = x)$y),
                          spar = fmt(s$spar), lambda = fmt(s$lambda), df = fmt(s$df))
}
write.table(do.call(rbind, fits), "smooth_spline.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
# pi0est refuses p-values whose maximum is below the largest lambda
msg <- tryCatch({ pi0est(c(0.1, 0.2, 0.5, 0.9)); "no error" }, error = function(e) conditionMessage(e))
cat("pi0est(c(0.1, 0.2, 0.5, 0.9)):", msg, "\n")
cat("R", R.version.string, "qvalue", as.character(packageVersion("qvalue")), "\n")
