# R/lmmlite baseline of run.py's lib-2000: eigen decomposition + rotation and the REML fits of
# all phenotypes, one core.
#
#   Rscript --vanilla benchmarks/lmmlite_heritability.R DIR REPEATS
#
# DIR holds what run.py wrote (the numbers its own fit uses):
#   dims.txt   n m p
#   K.bin      float64, little-endian: the kinship (n, n), column-major
#   y.bin      float64: the phenotypes (n, m), column-major, no missing values
#   X.bin      float64: the covariates (n, p), intercept included, column-major
# Reading is not timed. Timed, REPEATS times: eigen_rotation(K, y, X) (all phenotypes at once),
# then fitLMM(Kva, y[, j], X) for j = 1..m (REML, lmmlite's defaults: tol 1e-4, boundaries
# checked; fitLMM takes one phenotype, so an R loop over the columns, as a user would write it).
# Printed, one "key value" a line: the versions, R's BLAS and LAPACK, elapsed and CPU (user +
# system) seconds of each repetition (comma-separated). The hsq of the last repetition is
# written to DIR/hsq.bin (float64, m values).

args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
reps <- if (length(args) >= 2) as.integer(args[2]) else 3L
suppressPackageStartupMessages(library(lmmlite))
# the shared helpers (read_doubles, cpu, report) beside this script
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1]))
source(file.path(here, "rbaseline.R"))

dims <- scan(file.path(dir, "dims.txt"), quiet = TRUE)
n <- dims[1]; m <- dims[2]; p <- dims[3]
read_matrix <- function(name, nrow, ncol) matrix(read_doubles(dir, name, nrow * ncol), nrow, ncol)
K <- read_matrix("K.bin", n, n)
y <- read_matrix("y.bin", n, m)
X <- read_matrix("X.bin", n, p)

eig_el <- eig_cpu <- fit_el <- fit_cpu <- numeric(reps)
for (r in seq_len(reps)) {
    t <- system.time(e <- eigen_rotation(K, y, X), gcFirst = TRUE)
    eig_el[r] <- t[["elapsed"]]; eig_cpu[r] <- cpu(t)
    t <- system.time(hsq <- vapply(seq_len(m), function(j) fitLMM(e$Kva, e$y[, j], e$X, reml = TRUE)$hsq,
                                   numeric(1)), gcFirst = TRUE)
    fit_el[r] <- t[["elapsed"]]; fit_cpu[r] <- cpu(t)
}
writeBin(hsq, file.path(dir, "hsq.bin"), size = 8, endian = "little")

report("lmmlite", list(eigen_rotation = list(elapsed = eig_el, cpu = eig_cpu),
                      fit = list(elapsed = fit_el, cpu = fit_cpu)))
