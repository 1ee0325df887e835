# lmm-pipeline: heritability and genome scans of many phenotypes with a linear mixed model
# (lmmlite's model; R/qtl2's scan1 with LOCO kinships from genotype files).
# Usage: snakemake --cores 2          (settings: config/config.yaml; manual: config/README.md)


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/config.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/scan_helpers.smk"
include: "workflow/rules/eqtl_helpers.smk"
include: "workflow/rules/genotypes.smk"
include: "workflow/rules/load.smk"
include: "workflow/rules/partition.smk"
include: "workflow/rules/rotate.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/scan.smk"
include: "workflow/rules/scan_plots.smk"
include: "workflow/rules/effects.smk"
include: "workflow/rules/eqtl.smk"
include: "workflow/rules/provenance.smk"


rule all:
    default_target: True
    input:
        rules.aggregate.output.table,
        rules.aggregate.output.profile,
        rules.plot_heritability.output.figure,
        rules.plot_profiles.output.figure,
        rules.provenance.output.record,
        scan_targets,
        eqtl_targets,
