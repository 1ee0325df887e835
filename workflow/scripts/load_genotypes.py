"""Snakemake adapter of the genotype load stage (logic: lmm.pipeline.genotypes, lmm.pipeline.genotype_store)."""

import sys

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821 (snakemake is injected by Snakemake)

with user_errors(log):
    from lmm.pipeline import io
    from lmm.pipeline.genotype_store import write_intermediate
    from lmm.pipeline.genotypes import read_genotypes

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    source = read_genotypes(
        list(inp.genotypes), par.genotype_format,
        map_path=inp.map[0] if len(inp.map) else None, ids_path=inp.ids[0] if len(inp.ids) else None,
        map_position=par.map_position, id_column=par.id_column, na_values=par.na_values,
        x_chromosomes=par.x_chromosomes)
    log.info("genotypes %s: format %s, %s, %d individuals, %d markers (%s)", ", ".join(inp.genotypes),
             source.format, source.kind, len(source.ids), len(source.markers), source.dosage_allele)
    for chrom, columns in source.x_columns.items():
        log.info("X chromosome %s: columns %s (autosomes: %s)", chrom, ", ".join(columns), ", ".join(source.alleles))
    # the individuals of the analysis: those with phenotypes, in the phenotype file's order
    analysis = io.read_table(inp.phenotypes, id_column=par.id_column, role="phenotype",
                             na_values=par.na_values).index.astype(str).tolist()
    summary = write_intermediate(source, analysis, out.store, max_marker_missing=par.max_marker_missing,
                                 dtype=par.genotype_dtype, analysis_label=f"the phenotype file '{inp.phenotypes}'")
    dropped = summary["markers_dropped"]
    lines = [
        f"genotypes: {summary['n']} of the {summary['n_analysis']} phenotyped individuals are genotyped; "
        f"{summary['n_markers']} of {summary['n_markers_read']} markers kept"
        + "".join(f", {k} dropped ({why})" for why, k in dropped.items() if k),
    ]
    if summary["n_not_genotyped"]:
        lines.append(f"  {summary['n_not_genotyped']} phenotyped individual(s) without genotypes are dropped: "
                     f"{io.describe_ids(summary['ids_not_genotyped'])}")
    if summary["n_not_in_analysis"]:
        lines.append(f"  {summary['n_not_in_analysis']} genotyped individual(s) have no phenotypes (not used): "
                     f"{io.describe_ids(summary['ids_not_in_analysis'])}")
    lines += [f"  note: {note}" for note in summary["id_format_notes"]]
    if summary["n_imputed"]:
        lines.append(f"  {summary['n_imputed']} missing genotype value(s) replaced by the marker's mean")
    lines += [f"  note: {note}" for note in summary["notes"]]
    for line in lines:
        log.info("%s", line.strip())
    print("\n".join(lines), file=sys.stderr, flush=True)
