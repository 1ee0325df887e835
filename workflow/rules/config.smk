# The configuration: checked once against workflow/schemas/config.schema.yaml (defaults filled
# in), with the input files it names; and the input files of the three tables (a .npy's sidecar
# text files included).

from pathlib import Path

from snakemake.exceptions import WorkflowError

SCHEMA_PATH = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"

# Keys that were renamed: a configuration that still uses the old name stops with the new one.
RENAMED_KEYS = {"peak_drop": "interval_drop"}


def npy_sidecars(key):
    """For a .npy input (config[key]), its sidecar text files by kind; {} for other formats.

    The same naming as lmm.pipeline.io.npy_sidecars (tests/pipeline/test_io_binary.py checks they agree):
    <name>.npy + <name>.ids.txt, and for phenotypes and covariates <name>.columns.txt.
    """
    path = config.get(key)
    if not path or not str(path).lower().endswith(".npy"):
        return {}
    stem = str(path)[: -len(".npy")]
    sidecars = {"ids": f"{stem}.ids.txt"}
    if key != "kinship":
        sidecars["columns"] = f"{stem}.columns.txt"
    return sidecars


def sidecar_input(key):
    """The sidecar files of config[key] as an input list ([] unless it is a .npy)."""
    return list(npy_sidecars(key).values())


def check_config():
    """Validate the configuration once, fill in the schema's defaults, check the input files.

    Stops before any work with one line per error, naming the key (jsonschema's messages).
    """
    import yaml
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    renamed = [key for key in RENAMED_KEYS if key in config]
    if renamed:
        raise WorkflowError(
            "Invalid configuration (config/config.yaml, --configfile or --config):\n"
            + "\n".join(
                f"  config '{key}' has been renamed '{RENAMED_KEYS[key]}': use that name"
                for key in renamed
            )
        )
    # `--config covariates=null scan=false peakdrop=.inf` arrive as text: read null as none,
    # true and false as booleans and .inf as infinity, for the keys whose schema allows them
    for key, spec in schema["properties"].items():
        types = spec.get("type", [])
        types = [types] if isinstance(types, str) else types
        value = config.get(key)
        if (
            isinstance(value, str)
            and "null" in types
            and value in ("", "null", "None", "none")
        ):
            config[key] = None
        elif (
            isinstance(value, str) and "boolean" in types and value in ("true", "false")
        ):
            config[key] = value == "true"
        elif (
            isinstance(value, str)
            and "number" in types
            and value.lower() in (".inf", "inf", "infinity")
        ):
            config[key] = float("inf")
    errors = sorted(
        Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path)
    )
    if errors:
        lines = []
        for error in errors:
            key = ".".join(str(p) for p in error.path) or "(top level)"
            lines.append(f"  config '{key}': {error.message}")
        raise WorkflowError(
            "Invalid configuration (config/config.yaml, --configfile or --config):\n"
            + "\n".join(lines)
            + f"\nSee {SCHEMA_PATH.resolve()} for every key, its type and default."
        )
    for key, spec in schema["properties"].items():
        config.setdefault(key, spec["default"])
    peakdrop = config["peakdrop"]
    if (
        config["interval"] == "drop"
        and peakdrop is not None
        and config["interval_drop"] > peakdrop
    ):
        raise WorkflowError(
            f"config 'interval_drop' ({config['interval_drop']}) exceeds 'peakdrop' ({peakdrop}): "
            "a LOD support interval must not reach past the dip that separates two peaks "
            "(R/qtl2's find_peaks requires drop <= peakdrop)."
        )
    if not config.get("kinship") and not config.get("genotypes"):
        raise WorkflowError(
            "config 'kinship' and 'genotypes' are both null: give a kinship matrix, or genotypes "
            "to compute it from (config/README.md, 'Genotypes and kinship')."
        )
    if config["scan"] is True and not config.get("genotypes"):
        raise WorkflowError(
            "config 'scan' is true but 'genotypes' is null: a genome scan needs genotype files."
        )
    genotypes = config.get("genotypes") or []
    for path in [genotypes] if isinstance(genotypes, str) else genotypes:
        if not Path(path).exists() and not Path(f"{path}.bed").is_file():
            raise WorkflowError(
                f"config 'genotypes': the file '{path}' does not exist (relative paths are "
                f"read from the working directory {Path.cwd()})."
            )
    # the map and ids files are read only with the genotypes: without them they are not checked
    for key in ("genotype_map", "genotype_ids") if genotypes else ():
        if config.get(key) and not Path(config[key]).is_file():
            raise WorkflowError(
                f"config '{key}': the file '{config[key]}' does not exist."
            )
    for key in ("kinship", "phenotypes", "covariates", "x_covariates"):
        path = config.get(key)
        if path and not Path(path).is_file():
            raise WorkflowError(
                f"config '{key}': the file '{path}' does not exist "
                f"(relative paths are read from the working directory {Path.cwd()})."
            )
        for kind, sidecar in npy_sidecars(key).items():
            if not Path(sidecar).is_file():
                what = (
                    "one id per line" if kind == "ids" else "one column name per line"
                )
                raise WorkflowError(
                    f"config '{key}': the .npy file '{path}' holds no {'ids' if kind == 'ids' else 'column names'}: "
                    f"it needs the text file '{sidecar}' beside it ({what}, in the order of the "
                    f"matrix's {'rows' if kind == 'ids' else 'columns'}), which does not exist."
                )


check_config()
