#!/usr/bin/env bash
# Run by Snakemake (`--sdm conda`) inside the environment of environment.yml right after it is
# created (Snakemake's "post-deployment scripts": <env>.post-deploy.sh beside <env>.yml). It
# installs this project's lmm package, editable, from the project directory, which
# workflow/rules/common.smk puts in LMM_PIPELINE_SOURCE (this script itself runs from a copy
# in .snakemake/conda/, so it cannot find the project by its own path). Editable: the jobs run
# the code in the project directory, whose hash (script_code in common.smk) decides reruns.
set -euo pipefail
: "${LMM_PIPELINE_SOURCE:?is set by workflow/rules/common.smk when Snakemake runs the workflow}"
python -m pip install --no-deps --no-build-isolation --editable "$LMM_PIPELINE_SOURCE"
