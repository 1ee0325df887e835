#!/usr/bin/env Rscript
# make_qtl2_reference.R -- R/qtl2's own numbers on the bundled recla data, for the tests of
# find_peaks / lod_int / bayes_int / maxlod / fit1 / scan1coef / scan1blup / Xcovar / intcovar
# (issue 16). Our code: it only CALLS R/qtl2 (no qtl2 source is copied or translated here).
#
# Run (from the repository root; about 5-10 minutes on 2 cores):
#     Rscript tests/reference/make_qtl2_reference.R
# It needs R (>= 4.2) with qtl2 (made with qtl2 0.43-5, installed from github rqtl/qtl2 at
# commit b28ad12c268fe107c1e537d0d29abf41fecd316d) and data.table. It writes the TSV tables under
# tests/reference/qtl2/ (every number as sprintf("%.17g"); versions.tsv records the versions and
# the date); tests/reference/qtl2/README.md, which describes them, is written by hand. Neither R
# nor this script is used by the tests or by CI: the tests read the TSV files.
#
# Inputs (data/recla/): pheno.csv (261 x 26), covar.csv (sex: 0 female, 1 male),
# genotypes/recla_alleleprobs.csv.gz (founder-allele probabilities, columns <marker>:<allele>)
# and genotypes/recla_map.csv (cM map; the cM positions are the map used throughout).
#
# The genotype object is built from the CSV as a calc_genoprob object (one n x 8 x markers array
# per chromosome, attributes crosstype "do", is_x_chr, alleles A..H, alleleprobs TRUE), and the
# kinships by calc_kinship(probs, "loco"). Before anything is written, the script reproduces the
# figures of tests/_qtl2_reference.py (scan1 without covariates, find_peaks(threshold = 6.5), the
# null hsq) and stops if a LOD differs by more than 1e-6 (2e-6 for VC_bottom_time_pct, as in that
# file) or an hsq by more than 1e-6.
#
# Notes on qtl2 0.43-5 behaviour that the tables capture:
# - expand2markers = TRUE is the default of find_peaks / lod_int / bayes_int. It only moves an
#   interval end that falls on a PSEUDOMARKER (a name like "c2.loc45") out to the nearest real
#   marker. The recla map has markers only, so here it changes nothing (the script checks that
#   expand2markers = FALSE gives the same tables).
# - maxlod(out) with no lodcolumn is the maximum over ALL columns (all phenotypes): one number.
#   maxlod.tsv gives maxlod(out, lodcolumn = j) per phenotype and the overall maximum (row "*").
# - fit1(zerosum = TRUE, se = TRUE) forces var = TRUE and transforms the full covariance matrix
#   (A V A'), so its allele SEs are those of the centred effects. scan1coef(zerosum = TRUE,
#   se = TRUE) does NOT: the allele SEs are those of the uncentred coefficients, and the added
#   "intercept" SE is sqrt(mean(SE_allele^2)) (qtl2's help: "the standard errors aren't quite
#   right when zerosum=TRUE").
# - fit1's LOD is NOT scan1's LOD at the same marker (here 9.34638760527 vs 9.34640242699): fit1
#   (and scan1coef) fit the 8 allele columns without an intercept, scan1 an intercept plus
#   alleles 2..8. These span the same space only if each row of probabilities sums to 1 exactly;
#   the recla CSV is rounded to 6 decimals (row sums 1 +- 1e-6), and the LODs differ by 1.5e-5.
#   (Renormalising the rows makes them agree to 1e-12.) Coefficients and SEs of fit1 and
#   scan1coef agree with each other (same model, same hsq).
# - scan1blup: where the QTL variance component is estimated at 0, all eight allele BLUPs and
#   their SEs are exactly 0 (150 of the 447 chr-2 markers here).
# - Peaks, LOD and Bayes intervals with a finite peakdrop: each peak's interval is looked for
#   only between the two valleys that flank the peak (the valley marker belongs to both sides),
#   and bayes_int normalises 10^LOD x width over that segment only; drop must be <= peakdrop.
# - Xcovar columns already in addcovar are dropped (drop_xcovar), so addcovar = sex with
#   Xcovar = sex equals addcovar = sex alone; the Xcovar table is therefore made with NO addcovar
#   (autosomes: no covariate; X chromosome: sex as additive covariate, in the null model and hsq
#   too).

suppressPackageStartupMessages({
    library(qtl2)
    library(data.table)
})

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[1] else "."
datadir <- file.path(root, "data", "recla")
outdir <- file.path(root, "tests", "reference", "qtl2")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
write_tsv <- function(df, name) {
    df <- as.data.frame(df, stringsAsFactors = FALSE)
    for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- fmt(df[[j]])
    path <- file.path(outdir, name)
    write.table(df, path, sep = "\t", quote = FALSE, row.names = FALSE, col.names = TRUE,
                na = "NA")
    message(sprintf("  wrote %-45s %6d rows", name, nrow(df)))
    invisible(path)
}

## ---- data -----------------------------------------------------------------------------------
message("reading data")
pheno_df <- read.csv(file.path(datadir, "pheno.csv"), check.names = FALSE,
                     colClasses = c(id = "character"))
pheno <- as.matrix(pheno_df[, -1])
rownames(pheno) <- pheno_df$id
covar_df <- read.csv(file.path(datadir, "covar.csv"), colClasses = c(id = "character"))
sex <- cbind(sex = as.numeric(covar_df$sex))
rownames(sex) <- covar_df$id
stopifnot(identical(rownames(sex), rownames(pheno)))

mapdf <- read.csv(file.path(datadir, "genotypes", "recla_map.csv"),
                  colClasses = c(marker = "character", chr = "character"))
chrs <- unique(mapdf$chr)
map <- lapply(chrs, function(ch) {
    m <- mapdf[mapdf$chr == ch, ]
    setNames(m$pos_cM, m$marker)
})
names(map) <- chrs
is_x <- setNames(chrs == "X", chrs)
attr(map, "is_x_chr") <- is_x

ap <- fread(cmd = paste("gzip -dc", shQuote(file.path(datadir, "genotypes",
                                                         "recla_alleleprobs.csv.gz"))),
            colClasses = list(character = "id"))
ids <- ap$id
stopifnot(setequal(ids, rownames(pheno)))
apm <- as.matrix(ap[, -1])
rm(ap)
alleles <- LETTERS[1:8]
stopifnot(identical(colnames(apm), as.vector(t(outer(mapdf$marker, alleles, paste, sep = ":")))))
probs <- lapply(chrs, function(ch) {
    mk <- names(map[[ch]])
    cols <- paste(rep(mk, each = 8), alleles, sep = ":")
    array(apm[, cols], dim = c(length(ids), 8, length(mk)),
          dimnames = list(ids, alleles, mk))
})
names(probs) <- chrs
rm(apm)
attr(probs, "crosstype") <- "do"
attr(probs, "is_x_chr") <- is_x
attr(probs, "alleles") <- alleles
attr(probs, "alleleprobs") <- TRUE
class(probs) <- c("calc_genoprob", "list")

message("LOCO kinships")
kinship <- calc_kinship(probs, "loco")

## ---- check: reproduce tests/_qtl2_reference.py ----------------------------------------------
message("check against tests/_qtl2_reference.py")
ref_peaks <- data.frame(
    lodcolumn = c("OF_corner_pct", "OF_immobile_pct", "VC_top_time_pct", "VC_top_velocity",
                  "VC_bottom_distance_first4", "VC_bottom_distance", "VC_bottom_time_pct",
                  "TS_frequency_climbing", "TS_frequency_climbing", "bw"),
    chr = c("13", "2", "12", "3", "2", "14", "12", "6", "14", "7"),
    pos = c(59.867, 53.068, 20.706, 49.9407, 71.016, 12.7819, 20.706, 45.0624, 21.1141, 13.73),
    lod = c(6.63985935361347, 10.0811142067186, 6.56994358119858, 6.66343983315041,
            6.90891362012732, 6.75557398823713, 6.64100084067522, 8.33165926852275,
            7.22404422729799, 6.80450310698109),
    stringsAsFactors = FALSE)
out0 <- scan1(probs, pheno, kinship)
pk0 <- find_peaks(out0, map, threshold = 6.5)
stopifnot(nrow(pk0) == nrow(ref_peaks),
          identical(as.character(pk0$lodcolumn), ref_peaks$lodcolumn),
          identical(as.character(pk0$chr), ref_peaks$chr),
          max(abs(pk0$pos - ref_peaks$pos)) < 1e-6)
# Tolerance as in tests/_qtl2_reference.py: 1e-6, 2e-6 for VC_bottom_time_pct (qtl2's Brent
# search for its null hsq stops short of the REML optimum; where it stops depends on the last
# bits of the eigendecomposition, hence on the BLAS/LAPACK: here it stopped 1.3e-6 LOD away).
lod_diffs <- abs(pk0$lod - ref_peaks$lod)
lod_tol <- ifelse(ref_peaks$lodcolumn == "VC_bottom_time_pct", 2e-6, 1e-6)
check_lod_diff <- max(lod_diffs)
message(sprintf("  |LOD - reference| per peak: %s", paste(sprintf("%.2g", lod_diffs), collapse = " ")))
stopifnot(all(lod_diffs <= lod_tol))
hsq0 <- attr(out0, "hsq")
ref_hsq <- c(0.554529385275652, 0.466079846216682, 0.503510609656273, 0.454452936627259)
got_hsq <- c(hsq0["1", "OF_immobile_pct"], hsq0["2", "OF_immobile_pct"],
             hsq0["1", "bw"], hsq0["2", "bw"])
check_hsq_diff <- max(abs(got_hsq - ref_hsq))
message(sprintf("  max |hsq - reference| (4 values): %.3g", check_hsq_diff))
stopifnot(check_hsq_diff <= 1e-6)

## ---- 1. find_peaks on scan1(LOCO, addcovar = sex) --------------------------------------------
message("scan1 with addcovar = sex")
out <- scan1(probs, pheno, kinship, addcovar = sex)

peaks_lodint <- find_peaks(out, map, threshold = 4, peakdrop = 1.8, drop = 1.5)
peaks_bayes <- find_peaks(out, map, threshold = 4, peakdrop = 1.8, prob = 0.95)
peaks_t3 <- find_peaks(out, map, threshold = 3, drop = 1.5)
# expand2markers makes no difference with a markers-only map
stopifnot(isTRUE(all.equal(peaks_lodint,
                           find_peaks(out, map, threshold = 4, peakdrop = 1.8, drop = 1.5,
                                      expand2markers = FALSE), tolerance = 0)),
          isTRUE(all.equal(peaks_bayes,
                           find_peaks(out, map, threshold = 4, peakdrop = 1.8, prob = 0.95,
                                      expand2markers = FALSE), tolerance = 0)))
fix_peaks <- function(p) {
    p$lodcolumn <- as.character(p$lodcolumn)
    p$chr <- as.character(p$chr)
    p
}
write_tsv(fix_peaks(peaks_lodint), "peaks_t4_pd1.8_drop1.5.tsv")
write_tsv(fix_peaks(peaks_bayes), "peaks_t4_pd1.8_bayes0.95.tsv")
write_tsv(fix_peaks(peaks_t3), "peaks_t3_drop1.5.tsv")

## ---- 2. lod_int / bayes_int for three phenotype x chromosome pairs -------------------------
int_pairs <- list(c("OF_immobile_pct", "2"), c("TS_frequency_climbing", "6"), c("bw", "7"))
int_files <- character(0)
for (pr_ in int_pairs) {
    ph <- pr_[1]; ch <- pr_[2]
    li <- lod_int(out, map, chr = ch, lodcolumn = ph, drop = 1.5, peakdrop = 1.8, threshold = 4)
    bi <- bayes_int(out, map, chr = ch, lodcolumn = ph, prob = 0.95, peakdrop = 1.8,
                    threshold = 4)
    stopifnot(nrow(li) >= 1, nrow(bi) >= 1)
    f1 <- sprintf("lod_int_%s_chr%s.tsv", ph, ch)
    f2 <- sprintf("bayes_int_%s_chr%s.tsv", ph, ch)
    write_tsv(data.frame(peak = seq_len(nrow(li)), li), f1)
    write_tsv(data.frame(peak = seq_len(nrow(bi)), bi), f2)
    int_files <- c(int_files, f1, f2)
}

## ---- 3. maxlod -------------------------------------------------------------------------------
ml <- vapply(colnames(out), function(ph) maxlod(out, lodcolumn = ph), 0.0)
write_tsv(data.frame(phenotype = c(colnames(out), "*"), maxlod = c(ml, maxlod(out)),
                     stringsAsFactors = FALSE), "maxlod.tsv")

## ---- 4. effects: OF_immobile_pct on chr 2 --------------------------------------------------
message("effects for OF_immobile_pct on chr 2")
ph <- "OF_immobile_pct"
y <- pheno[, ph, drop = FALSE]
pr2 <- probs[, "2"]
K2 <- kinship[["2"]]
mx <- max_scan1(out, map, lodcolumn = ph, chr = "2")
peak_marker <- rownames(mx)
f1z <- fit1(probs[["2"]][, , peak_marker], y, K2, addcovar = sex, se = TRUE)   # zerosum = TRUE
f1n <- fit1(probs[["2"]][, , peak_marker], y, K2, addcovar = sex, se = TRUE, zerosum = FALSE)
write_tsv(rbind(
    data.frame(zerosum = TRUE, coefficient = names(f1z$coef), estimate = unname(f1z$coef),
               se = unname(f1z$SE), stringsAsFactors = FALSE),
    data.frame(zerosum = FALSE, coefficient = names(f1n$coef), estimate = unname(f1n$coef),
               se = unname(f1n$SE), stringsAsFactors = FALSE)),
    "fit1_OF_immobile_pct_chr2.tsv")
# hsq: scan1's LOCO null hsq for chr 2 (REML, intercept + sex), which est_herit reproduces
hsq_scan <- attr(out, "hsq")["2", ph]
hsq_est <- est_herit(y, K2, addcovar = sex)[1]
co <- scan1coef(pr2, y, K2, addcovar = sex, se = TRUE)                  # zerosum = TRUE
bl <- scan1blup(pr2, y, K2, addcovar = sex, se = TRUE)
long_coef <- function(x) {
    est <- unclass(x); se <- attr(x, "SE")
    data.frame(marker = rep(rownames(est), times = ncol(est)),
               pos = rep(map[["2"]][rownames(est)], times = ncol(est)),
               coefficient = rep(colnames(est), each = nrow(est)),
               estimate = as.vector(est[, seq_len(ncol(est))]),
               se = as.vector(se[, seq_len(ncol(se))]), stringsAsFactors = FALSE)
}
write_tsv(long_coef(co), "scan1coef_OF_immobile_pct_chr2.tsv")
write_tsv(long_coef(bl), "scan1blup_OF_immobile_pct_chr2.tsv")
write_tsv(data.frame(
    item = c("phenotype", "chr", "peak_marker", "peak_pos_cM", "scan1_lod_at_peak",
             "fit1_lod_zerosum", "fit1_lod_nozerosum", "hsq_scan1_loco_chr2",
             "hsq_est_herit_loco_chr2", "n"),
    value = c(ph, "2", peak_marker, fmt(map[["2"]][peak_marker]), fmt(mx[1, ph]),
              fmt(f1z$lod), fmt(f1n$lod), fmt(hsq_scan), fmt(hsq_est),
              as.character(sum(!is.na(y)))),
    stringsAsFactors = FALSE), "effects_OF_immobile_pct_chr2_info.tsv")

## ---- 5. X chromosome: Xcovar; interactive covariate ----------------------------------------
message("Xcovar and intcovar scans")
long_phen <- c("OF_immobile_pct", "TS_frequency_climbing", "bw")
outX <- scan1(probs, pheno[, long_phen], kinship, Xcovar = sex)
# (addcovar = sex with Xcovar = sex is addcovar = sex alone: Xcovar is dropped)
stopifnot(isTRUE(all.equal(unclass(scan1(probs, pheno[, long_phen], kinship, addcovar = sex,
                                         Xcovar = sex)),
                           unclass(out[, long_phen]), check.attributes = FALSE,
                           tolerance = 0)))
outI <- scan1(probs, pheno[, long_phen], kinship, addcovar = sex, intcovar = sex)
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
write_tsv(long_lod(outX), "scan1_xcovar_sex_lod.tsv")
write_tsv(long_hsq(outX), "scan1_xcovar_sex_hsq.tsv")
write_tsv(long_lod(outI), "scan1_intcovar_sex_lod.tsv")
write_tsv(long_hsq(outI), "scan1_intcovar_sex_hsq.tsv")
write_tsv(long_hsq(out), "scan1_addcovar_sex_hsq.tsv")
# the addcovar-only LOD for the same three phenotypes, the baseline of the two above
write_tsv(long_lod(out[, long_phen]), "scan1_addcovar_sex_lod.tsv")

## ---- versions -------------------------------------------------------------------------------
write_tsv(data.frame(
    item = c("qtl2", "R", "data.table", "date", "check_max_abs_lod_diff",
             "check_max_abs_hsq_diff"),
    value = c(as.character(packageVersion("qtl2")), R.version.string,
              as.character(packageVersion("data.table")), format(Sys.Date()),
              fmt(check_lod_diff), fmt(check_hsq_diff)),
    stringsAsFactors = FALSE), "versions.tsv")
message("done")
