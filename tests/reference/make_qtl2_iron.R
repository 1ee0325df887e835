#!/usr/bin/env Rscript
# make_qtl2_iron.R -- R/qtl2's own numbers on qtl2's bundled `iron` F2 example (issue 16): an
# intercross with an X chromosome, whose genotype probabilities have other genotype columns on X
# (autosomes SS, SB, BB; X SS, SB, BS, BB, SY, BY). Our code: it only CALLS R/qtl2 (no qtl2
# source is copied or translated here).
#
# Run (from the repository root; a few seconds):
#     Rscript tests/reference/make_qtl2_iron.R
# It needs R (>= 4.2) with qtl2 (made with qtl2 0.43-5). It writes under tests/reference/qtl2/iron/
#   - the inputs as a user gives them to this pipeline: genoprobs.csv.gz (id + <marker>:<genotype>
#     columns), map.csv (marker, chr, pos_cM), pheno.csv, covar.csv, xcovar.csv;
#   - qtl2's kinships (kinship_*.csv.gz: id + one column per id);
#   - scan1 LODs, null hsq and find_peaks tables (TSV, every number as sprintf("%.17g"));
#   - versions.tsv (qtl2 and R versions, the date, the round-trip checks).
# tests/reference/qtl2/iron/README.md, which describes them, is written by hand. Neither R nor
# this script is used by the tests or by CI: the tests read the files.
#
# Checks made before anything is written (the script stops otherwise):
#   - the exported genotype table, read back into a calc_genoprob object, gives exactly qtl2's
#     probabilities (max |difference| 0: %.17g round-trips doubles) and the same kinships;
#   - qtl2's LOCO kinship of an autosome is the marker-weighted mean of the per-chromosome
#     kinships of ALL other chromosomes, X included, and LOCO of X that of the autosomes; the
#     overall kinship is that of all markers, X included (calc_kinship's default omit_x = FALSE);
#   - a chromosome's kinship is the mean over its markers of P P' of the allele probabilities
#     (genoprob_to_alleleprob: SB and BS half S and half B, SY is S, BY is B).

suppressPackageStartupMessages(library(qtl2))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[1] else "."
outdir <- file.path(root, "tests", "reference", "qtl2", "iron")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
format_frame <- function(df) {
    df <- as.data.frame(df, stringsAsFactors = FALSE, check.names = FALSE)
    for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- fmt(df[[j]])
    df
}
write_tsv <- function(df, name) {
    path <- file.path(outdir, name)
    write.table(format_frame(df), path, sep = "\t", quote = FALSE, row.names = FALSE,
                col.names = TRUE, na = "NA")
    message(sprintf("  wrote %-40s %6d rows", name, nrow(df)))
}
write_csv <- function(df, name) {
    path <- file.path(outdir, name)
    con <- if (grepl("\\.gz$", name)) gzfile(path, "w") else file(path, "w")
    write.table(format_frame(df), con, sep = ",", quote = FALSE, row.names = FALSE,
                col.names = TRUE, na = "NA")
    close(con)
    message(sprintf("  wrote %-40s %6d rows x %d columns", name, nrow(df), ncol(df)))
}
with_id <- function(m) {
    df <- data.frame(id = rownames(m), stringsAsFactors = FALSE)
    cbind(df, as.data.frame(m, stringsAsFactors = FALSE, check.names = FALSE))
}

## ---- data and genotype probabilities --------------------------------------------------------
iron <- read_cross2(system.file("extdata", "iron.zip", package = "qtl2"))
probs <- calc_genoprob(iron, iron$gmap, error_prob = 0.002)   # markers only: no pseudomarkers
map <- iron$gmap
chrs <- names(probs)
ids <- rownames(probs[[1]])
pheno <- iron$pheno
stopifnot(identical(rownames(pheno), ids))
sex <- cbind(sex = as.numeric(iron$covar$sex == "m"))           # 1 male, 0 female
rownames(sex) <- rownames(iron$covar)
stopifnot(identical(rownames(sex), ids), all(sex[, 1] == !iron$is_female[ids]))
direction <- iron$cross_info[ids, "cross_direction"]
covar <- cbind(sex, cross_direction = as.numeric(direction))
xcovar <- get_x_covar(iron)
stopifnot(identical(rownames(xcovar), ids))

## ---- inputs as the pipeline reads them ------------------------------------------------------
message("inputs")
gp <- do.call(cbind, lapply(chrs, function(ch) {
    a <- probs[[ch]]
    g <- dimnames(a)[[2]]
    mk <- dimnames(a)[[3]]
    m <- matrix(a, nrow = dim(a)[1])            # column-major: genotype fastest within marker
    colnames(m) <- paste(rep(mk, each = length(g)), rep(g, times = length(mk)), sep = ":")
    m
}))
rownames(gp) <- ids
write_csv(with_id(gp), "genoprobs.csv.gz")
mapdf <- data.frame(marker = unlist(lapply(map, names)),
                    chr = rep(chrs, times = sapply(map, length)),
                    pos_cM = unlist(map), stringsAsFactors = FALSE)
write_csv(mapdf, "map.csv")
write_csv(with_id(pheno), "pheno.csv")
write_csv(with_id(covar), "covar.csv")
write_csv(with_id(xcovar), "xcovar.csv")

# Round trip: the table read back is qtl2's probabilities, bit for bit.
back <- read.csv(file.path(outdir, "genoprobs.csv.gz"), check.names = FALSE,
                 colClasses = c(id = "character"))
stopifnot(identical(back$id, ids))
bm <- as.matrix(back[, -1])
roundtrip_diff <- max(abs(bm - gp))
stopifnot(identical(colnames(bm), colnames(gp)), roundtrip_diff == 0)

## ---- kinships -------------------------------------------------------------------------------
message("kinships")
k_overall <- calc_kinship(probs)
k_loco <- calc_kinship(probs, "loco")
k_chr <- calc_kinship(probs, "chr")
n_markers <- sapply(probs, function(a) dim(a)[3])
weighted <- function(keep) Reduce(`+`, Map(function(K, m) K * m, k_chr[keep], n_markers[keep])) /
    sum(n_markers[keep])
is_x <- attr(probs, "is_x_chr")
loco_rule_diff <- max(sapply(chrs, function(ch) max(abs(k_loco[[ch]] - weighted(chrs != ch)))),
                      abs(k_loco[["X"]] - weighted(!is_x)), abs(k_overall - weighted(chrs)))
stopifnot(loco_rule_diff < 1e-14)
ap <- genoprob_to_alleleprob(probs)
chr_rule_diff <- max(sapply(chrs, function(ch) {
    a <- ap[[ch]]
    K <- Reduce(`+`, lapply(seq_len(dim(a)[3]), function(j) a[, , j] %*% t(a[, , j]))) / dim(a)[3]
    max(abs(K - k_chr[[ch]]))
}))
stopifnot(chr_rule_diff < 1e-14)
kin_out <- function(K) with_id(unclass(K)[ids, ids])
write_csv(kin_out(k_overall), "kinship_overall.csv.gz")
loco_chrs <- c("1", "X")
for (ch in loco_chrs) write_csv(kin_out(k_loco[[ch]]), sprintf("kinship_loco_%s.csv.gz", ch))

## ---- scans and peaks ------------------------------------------------------------------------
long_lod <- function(o) {
    l <- unclass(o)
    data.frame(phenotype = rep(colnames(l), each = nrow(l)),
               marker = rep(rownames(l), times = ncol(l)),
               lod = as.vector(l[, seq_len(ncol(l))]), stringsAsFactors = FALSE)
}
long_hsq <- function(o) {
    h <- attr(o, "hsq")
    data.frame(phenotype = rep(colnames(h), each = nrow(h)),
               kinship_chr = rep(rownames(h), times = ncol(h)),
               hsq = as.vector(h[, seq_len(ncol(h))]), stringsAsFactors = FALSE)
}
write_scan <- function(o, stem) {
    write_tsv(long_lod(o), paste0(stem, "_lod.tsv"))
    write_tsv(long_hsq(o), paste0(stem, "_hsq.tsv"))
    write_tsv(find_peaks(o, map, threshold = 3, drop = 1.5), paste0(stem, "_peaks_t3_drop1.5.tsv"))
}
message("scans")
write_scan(scan1(probs, pheno, k_loco, Xcovar = xcovar), "scan1_loco_xcovar")
write_scan(scan1(probs, pheno, k_overall, Xcovar = xcovar), "scan1_overall_xcovar")
write_scan(scan1(probs, pheno, k_loco, addcovar = sex, Xcovar = xcovar), "scan1_loco_addcovar_sex_xcovar")

## ---- effects on X: fit1 with the X covariates in the null only ---------------------------------
# An F2's X has six genotype columns (SS, SB, BS, BB, SY, BY). fit1's nullcovar is for X: the null
# model (and so hsq) has the Xcovar columns, the alternative only the genotypes (zerosum, with SEs).
message("fit1 on X")
long_fit1 <- function(p, m) {
    f <- fit1(probs[["X"]][, , m], pheno[, p], k_loco[["X"]], nullcovar = xcovar, se = TRUE)
    data.frame(phenotype = p, marker = m, coefficient = names(f$coef),
               estimate = unname(f$coef), se = unname(f$SE), lod = f$lod, stringsAsFactors = FALSE)
}
write_tsv(do.call(rbind, lapply(c("liver", "spleen"), function(p)
    do.call(rbind, lapply(dimnames(probs[["X"]])[[3]], function(m) long_fit1(p, m))))),
    "fit1_loco_xcovar_X.tsv")

write_tsv(data.frame(
    item = c("qtl2", "R", "date", "roundtrip_max_abs_diff", "loco_rule_max_abs_diff",
             "chr_kinship_rule_max_abs_diff"),
    value = c(as.character(packageVersion("qtl2")), R.version.string, as.character(Sys.Date()),
              fmt(roundtrip_diff), fmt(loco_rule_diff), fmt(chr_rule_diff)),
    stringsAsFactors = FALSE), "versions.tsv")
