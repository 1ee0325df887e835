# R/qtl2 baseline of bench_scan.py case (a): LOCO kinship + scan1 of recla, one core.
#
#   Rscript --vanilla benchmarks/qtl2_recla.R DIR REPEATS
#
# DIR holds what bench_scan.py wrote from data/recla (the numbers its own scan uses):
#   ids.txt          the n mouse ids, one a line
#   markers.csv      marker,chr: the q markers in map order
#   pheno_names.txt  the m phenotype names
#   probs.bin        float64, little-endian: the allele probabilities as an R array
#                    (n, 8, q) in column-major order
#   pheno.bin        float64: the phenotypes (n, m) in column-major order, NaN = missing
# Reading is not timed. Timed, REPEATS times: calc_kinship(probs, "loco", cores = 1) and
# scan1(probs, pheno, kinship, cores = 1) (no additive covariates: the intercept only, as in
# case (a) and the published qtl2data analysis). Printed, one "key value" a line: the versions,
# R's BLAS and LAPACK, elapsed and CPU (user + system) seconds of each repetition
# (comma-separated). The LOD matrix (markers x phenotypes) and the null hsq (chromosomes x
# phenotypes) of the last repetition are written to DIR/lod.bin and DIR/hsq.bin (float64,
# column-major).

args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
reps <- if (length(args) >= 2) as.integer(args[2]) else 3L
suppressPackageStartupMessages(library(qtl2))
# the shared helpers (read_doubles, cpu, report) beside this script
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1]))
source(file.path(here, "rbaseline.R"))

ids <- readLines(file.path(dir, "ids.txt"))
map <- read.csv(file.path(dir, "markers.csv"), colClasses = "character")
pnames <- readLines(file.path(dir, "pheno_names.txt"))
n <- length(ids); q <- nrow(map); m <- length(pnames)
v <- read_doubles(dir, "probs.bin", n * 8 * q)
dim(v) <- c(n, 8L, q)
chrs <- unique(map$chr)
alleles <- LETTERS[1:8]
probs <- lapply(chrs, function(ch) {
    a <- v[, , map$chr == ch, drop = FALSE]
    dimnames(a) <- list(ids, alleles, map$marker[map$chr == ch])
    a
})
rm(v)
names(probs) <- chrs
attr(probs, "crosstype") <- "do"
attr(probs, "is_x_chr") <- setNames(chrs == "X", chrs)
attr(probs, "alleles") <- alleles
attr(probs, "alleleprobs") <- TRUE
class(probs) <- c("calc_genoprob", "list")
pheno <- matrix(read_doubles(dir, "pheno.bin", n * m), n, m, dimnames = list(ids, pnames))
pheno[is.nan(pheno)] <- NA

kin_el <- kin_cpu <- scan_el <- scan_cpu <- numeric(reps)
for (r in seq_len(reps)) {
    t <- system.time(kinship <- calc_kinship(probs, "loco", cores = 1), gcFirst = TRUE)
    kin_el[r] <- t[["elapsed"]]; kin_cpu[r] <- cpu(t)
    t <- system.time(out <- scan1(probs, pheno, kinship, cores = 1), gcFirst = TRUE)
    scan_el[r] <- t[["elapsed"]]; scan_cpu[r] <- cpu(t)
}
stopifnot(identical(rownames(out), map$marker), identical(colnames(out), pnames))
writeBin(as.vector(unclass(out)), file.path(dir, "lod.bin"), size = 8, endian = "little")
hsq <- attr(out, "hsq")
writeBin(as.vector(hsq[chrs, pnames]), file.path(dir, "hsq.bin"), size = 8, endian = "little")

report("qtl2", list(kinship = list(elapsed = kin_el, cpu = kin_cpu),
                   scan1 = list(elapsed = scan_el, cpu = scan_cpu)))
