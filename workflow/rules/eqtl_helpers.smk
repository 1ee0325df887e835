# Helpers of the eQTL rules (workflow/rules/eqtl.smk): the checks of their settings, which
# of their files a run makes, and the scan jobs the sparse LOD output of a chromosome reads.

from snakemake.exceptions import WorkflowError


def significance_enabled():
    """Whether the traits' genome-wide significance is computed: a scan with permutations."""
    return scan_enabled() and config["scan_permutations"] > 0


def check_eqtl_config():
    """Stop before any work when an eQTL setting cannot be honoured."""
    asked = [
        k
        for k in ("phenotype_positions", "hotspot_window")
        if config.get(k) is not None
    ]
    if asked and not significance_enabled():
        why = (
            "the genome scan is off ('scan', or no 'genotypes')"
            if not scan_enabled()
            else "'scan_permutations' is 0"
        )
        raise WorkflowError(
            f"config {', '.join(repr(k) for k in asked)} asks for the traits' genome-wide significance, "
            f"which needs the genome scan with permutations, but {why}: set scan_permutations (e.g. 1000) "
            "(config/README.md, 'How to run an eQTL study')."
        )
    positions = config.get("phenotype_positions")
    if positions and config.get("cis_window") is None:
        raise WorkflowError(
            "config 'phenotype_positions' is set but 'cis_window' is null: give the window of a local "
            f"(cis) peak in the map's unit ({config['map_unit']}), e.g. 5 for cM or 5000000 for bp."
        )
    if positions and not Path(positions).is_file():
        raise WorkflowError(
            f"config 'phenotype_positions': the file '{positions}' does not exist "
            f"(relative paths are read from the working directory {Path.cwd()})."
        )


check_eqtl_config()


def lod_min_chromosomes():
    """The scanned chromosomes in genome order (after the load_genotypes checkpoint)."""
    return [c for group in scan_group_map().values() for c in group]


def lod_min_results(wildcards):
    """The scan jobs of the group that holds the chromosome, every chunk."""
    group = next(
        g for g, chroms in scan_group_map().items() if wildcards.chrom in chroms
    )
    return expand(rules.scan.output.result, group=group, chunk=scan_chunk_names())


def lod_min_group(wildcards):
    """The chromosomes of the group holding the chromosome (its arrays' prefix c<k>__)."""
    return next(c for c in scan_group_map().values() if wildcards.chrom in c)


def eqtl_targets(wildcards):
    """The eQTL rules' files (none without a scan with permutations, or without their keys)."""
    if not scan_enabled():
        return []
    targets = []
    if config.get("lod_min") is not None:
        targets += expand(rules.scan_lod_min.output.table, chrom=lod_min_chromosomes())
    if significance_enabled():
        targets += [rules.significance.output.table, rules.eqtl_peaks.output.peaks]
    if significance_enabled() and config.get("hotspot_window") is not None:
        targets += list(rules.hotspots.output)
    if significance_enabled() and config.get("phenotype_positions"):
        targets.append(rules.plot_cis_trans.output.figure)
    return targets
