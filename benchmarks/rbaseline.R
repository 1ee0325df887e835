# What the R baselines of the benchmarks share (sourced by qtl2_recla.R and lmmlite_heritability.R;
# benchmarks/rbaseline.py runs them and reads the "key value" lines printed by report()).

# `count` little-endian float64 values of DIR/name, as Python's ndarray.tofile wrote them.
read_doubles <- function(dir, name, count) {
    con <- file(file.path(dir, name), "rb")
    on.exit(close(con))
    v <- readBin(con, "double", n = count, size = 8, endian = "little")
    stopifnot(length(v) == count)
    v
}

# CPU seconds (user + system) of a system.time() result.
cpu <- function(t) t[["user.self"]] + t[["sys.self"]]

# Print R's and the package's versions, R's BLAS and LAPACK, and for each step of `timings`
# (a named list of list(elapsed = <seconds per repetition>, cpu = <seconds per repetition>)) the
# lines "<step>_elapsed_s" and "<step>_cpu_s", comma-separated.
report <- function(package, timings) {
    fmt <- function(x) paste(sprintf("%.4f", x), collapse = ",")
    si <- sessionInfo()
    cat("r_version", R.version.string, "\n")
    cat(paste0(package, "_version"), as.character(packageVersion(package)), "\n")
    cat("blas", if (is.null(si$BLAS)) extSoftVersion()[["BLAS"]] else si$BLAS, "\n")
    cat("lapack", La_library(), "\n")
    for (step in names(timings)) {
        cat(paste0(step, "_elapsed_s"), fmt(timings[[step]]$elapsed), "\n")
        cat(paste0(step, "_cpu_s"), fmt(timings[[step]]$cpu), "\n")
    }
}
