"""Genotype tables (CSV/TSV(.gz), Parquet): dosages or allele probabilities, with a marker map."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from lmm.alleles import genotype_pair_alleles, x_genotype_sets
from lmm.errors import InputError
from lmm.pipeline.genotypes.chromosomes import normalize_chromosomes
from lmm.pipeline.genotypes.common import (
    DOSAGE_MAX, PROBABILITY_RANGE_TOLERANCE, PROBABILITY_SUM_TOLERANCE, check_file, check_map_duplicates,
    check_range, checked_id_list, open_binary, GenotypePart, parse_positions,
)
from lmm.pipeline.io import describe_ids, duplicated, input_format, non_numeric_cells, read_table


def read_marker_map(path: str, map_position: str | None) -> tuple[pd.DataFrame, str]:
    """The marker map of a genotype table, indexed by marker: chr (str), pos (float)."""
    what = "genotype map (config 'genotype_map')"
    check_file(path, what)
    try:
        if input_format(path) == "parquet":
            frame = pd.read_parquet(path)
            if not isinstance(frame.index, pd.RangeIndex):
                frame = frame.reset_index()
            frame = frame.astype({c: str for c in frame.columns if c in ("marker", "chr")})
        else:
            stem = path[:-3] if path.lower().endswith(".gz") else path
            sep = "," if stem.lower().endswith(".csv") else "\t"
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True,
                                encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"The {what} '{path}' cannot be read as a table: {str(exc).strip().splitlines()[-1]}.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lacking = [c for c in ("marker", "chr") if c not in frame.columns]
    if lacking:
        raise InputError(
            f"The {what} '{path}' has no column {describe_ids(lacking)}; its columns are "
            f"{describe_ids(list(frame.columns))}. Expected marker, chr and a position column."
        )
    others = [c for c in frame.columns if c not in ("marker", "chr")]
    if map_position is None:
        if "pos" in others:
            map_position = "pos"
        elif len(others) == 1:
            map_position = others[0]
        else:
            raise InputError(
                f"The {what} '{path}' has several position columns ({describe_ids(others)}) and none named 'pos': "
                "say which to use with config 'map_position'."
            )
    if map_position not in others:
        raise InputError(
            f"The {what} '{path}' has no position column '{map_position}' (config 'map_position'); its columns "
            f"are {describe_ids(list(frame.columns))}."
        )
    frame["marker"] = frame["marker"].astype(str).str.strip()
    frame["chr"] = frame["chr"].astype(str).str.strip()
    blank = frame["marker"] == ""
    if blank.any():
        raise InputError(f"The {what} '{path}' has rows without a marker name (rows {describe_ids((np.flatnonzero(blank) + 1).tolist())}).")
    check_map_duplicates(frame, path, what)
    no_chr = frame["chr"].isin(["", "nan", "NA", "None"])
    if no_chr.any():
        raise InputError(f"The {what} '{path}' has markers without a chromosome: {describe_ids(frame.loc[no_chr, 'marker'].tolist())}.")
    pos = parse_positions(frame[map_position], frame["marker"], path, what)
    frame["chr"] = normalize_chromosomes(frame["chr"], frame["marker"], path, what)
    return pd.DataFrame({"chr": frame["chr"].to_numpy(), "pos": pos}, index=pd.Index(frame["marker"], name="marker")), map_position


def _parse_text_table(path: str, id_column: str, na: tuple[str, ...]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A plain numeric CSV/TSV(.gz): ids, column names, values (n, columns) float64.

    Streams the file line by line and parses each row with numpy (a wide table, e.g. 51,152
    columns, is several times faster so than with pandas). Quoted fields fall back to
    :func:`lmm.pipeline.io.read_table`.
    """
    stem = path[:-3] if path.lower().endswith(".gz") else path
    sep = "," if stem.lower().endswith(".csv") else "\t"
    na_set = set(na)
    with open_binary(path) as handle:
        try:
            header_raw = handle.readline().decode("utf-8-sig")
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise InputError(f"The genotype file '{path}' is not a readable text table ({exc}).") from None
        if '"' in header_raw or "'" in header_raw:
            return None  # quoted: the general reader
        header = [h.strip() for h in header_raw.rstrip("\r\n").split(sep)]
        if len(header) < 2:
            raise InputError(
                f"The genotype file '{path}' has a single column; expected an id column '{id_column}' and marker "
                f"columns, {'comma' if sep == ',' else 'tab'}-separated."
            )
        if id_column not in header:
            raise InputError(
                f"The genotype file '{path}' has no id column '{id_column}' (config 'id_column'); its first columns "
                f"are {describe_ids(header)}."
            )
        id_at = header.index(id_column)
        columns = header[:id_at] + header[id_at + 1:]
        dup = duplicated(columns)
        if dup:
            raise InputError(f"The genotype file '{path}' has duplicated column names: {describe_ids(dup)}.")
        bsep = sep.encode()
        ids, rows = [], []
        for number, raw in enumerate(handle, start=2):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            if b'"' in raw:
                return None
            fields = raw.split(bsep)
            if len(fields) != len(header):
                raise InputError(
                    f"The genotype file '{path}' has {len(fields)} fields on line {number} but its header has "
                    f"{len(header)}. Every row must have one value per column."
                )
            ident = fields.pop(id_at).decode("utf-8").strip()
            try:
                row = np.array(fields, dtype=np.float64)
            except ValueError:
                row = np.empty(len(fields))
                for k, v in enumerate(fields):
                    text = v.decode("utf-8", "replace").strip()
                    if text in na_set:
                        row[k] = np.nan
                        continue
                    try:
                        row[k] = float(text)
                    except ValueError:
                        raise InputError(
                            f"The genotype file '{path}' has a non-numeric value {text!r} in column '{columns[k]}' "
                            f"on line {number} (id '{ident}')."
                        ) from None
            ids.append(ident)
            rows.append(row)
    if not rows:
        raise InputError(f"The genotype file '{path}' has a header but no rows of data.")
    ids = checked_id_list(ids, path, "genotype file")
    values = np.empty((len(rows), len(columns)))
    for k, row in enumerate(rows):
        values[k] = row
    return ids, columns, values


def _read_genotype_table(path: str, id_column: str, na: tuple[str, ...]) -> tuple[np.ndarray, list[str], np.ndarray]:
    check_file(path, "genotype file")
    if input_format(path) == "text":
        parsed = _parse_text_table(path, id_column, na)
        if parsed is not None:
            return parsed
    frame = read_table(path, id_column=id_column, role="genotype", na_values=na)
    for column, dtype in frame.dtypes.items():
        if dtype != np.float64:
            bad = non_numeric_cells(frame, column)
            if bad:
                raise InputError(
                    f"The genotype file '{path}' has non-numeric values in column '{column}' for ids {describe_ids(bad)}."
                )
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64) if (frame.dtypes != np.float64).any() \
        else frame.to_numpy(dtype=np.float64)
    return np.asarray([str(i) for i in frame.index], dtype=object), [str(c) for c in frame.columns], values


def _marker_columns(path: str, columns: list[str]) -> dict[str, dict[str, int]]:
    """``<marker>:<allele>`` columns by marker (table order): {marker: {allele: column index}}."""
    by_marker: dict[str, dict[str, int]] = {}
    for k, c in enumerate(columns):
        m, a = c.rsplit(":", 1)
        by_marker.setdefault(m, {})[a] = k
    return by_marker


def _describe_set(marker: str, have: dict[str, int], expected: tuple[str, ...]) -> str:
    """What `marker` lacks and has in excess of `expected`, in words (``lacks m:A; has extra m:Z``)."""
    lacking = [a for a in expected if a not in have]
    extra = [a for a in have if a not in expected]
    return (f"lacks {', '.join(f'{marker}:{a}' for a in lacking)}" if lacking else "") + \
        ("; " if lacking and extra else "") + (f"has extra {', '.join(f'{marker}:{a}' for a in extra)}" if extra else "")


def _inferred_autosomal(names: tuple[str, ...]) -> tuple[str, ...]:
    """The autosomes' columns implied by an X marker's (a table of X markers only): the genotype
    pairs of its homozygotes when `names` is a known X set of them, else `names` (alleles)."""
    alleles = [n[0] for n in names if len(n) == 2 and n[0] == n[1]]
    pairs = tuple(a + b for i, a in enumerate(alleles) for b in alleles[i:])
    if genotype_pair_alleles(pairs) is not None and set(names) in [set(s) for s in x_genotype_sets(pairs)]:
        return pairs
    return names


def _x_set_error(path: str, marker: str, chrom: str, names: tuple[str, ...], alleles: tuple[str, ...]) -> InputError:
    known = " or ".join("(" + ", ".join(s) + ")" for s in x_genotype_sets(alleles) if set(s) != set(alleles))
    return InputError(
        f"The genotype file '{path}': marker '{marker}' on X chromosome '{chrom}' (config 'x_chromosomes') has "
        f"the columns {', '.join(f'{marker}:{a}' for a in names)}, which are neither the autosomes' "
        f"({', '.join(alleles)}){' nor a known X set ' + known if known else ''}. Every marker of an X chromosome "
        "needs the autosomes' columns or one known X set (the same for all its markers)."
    )


def _chromosome_columns(path: str, by_marker: dict, chrom_of: dict, x_chromosomes) -> tuple[tuple[str, ...], dict]:
    """The autosomes' column tuple and each X chromosome's, checked marker by marker."""
    x_set = set(x_chromosomes)
    autosomal = [m for m in by_marker if chrom_of[m] not in x_set]
    first = autosomal[0] if autosomal else next(iter(by_marker))
    alleles = tuple(by_marker[first]) if autosomal else _inferred_autosomal(tuple(by_marker[first]))
    known = [set(s) for s in x_genotype_sets(alleles)]
    x_columns: dict[str, tuple[str, ...]] = {}
    x_first: dict[str, str] = {}
    for m, have in by_marker.items():
        chrom, names = chrom_of[m], tuple(have)
        if chrom not in x_set:
            if set(names) != set(alleles):
                hint = (f" Its columns are a known X chromosome set: if chromosome '{chrom}' is an X chromosome, "
                        "add it to config 'x_chromosomes'." if set(names) in known and set(names) != set(alleles)
                        else "")
                raise InputError(
                    f"The genotype file '{path}': marker '{m}' {_describe_set(m, have, alleles)}. Every marker needs "
                    f"one column per allele, the same alleles for all markers ({', '.join(alleles)}, those of "
                    f"'{first}'), except on the X chromosomes (config 'x_chromosomes').{hint}"
                )
            continue
        if chrom not in x_columns:
            if set(names) != set(alleles) and set(names) not in known:
                raise _x_set_error(path, m, chrom, names, alleles)
            x_columns[chrom] = alleles if set(names) == set(alleles) else names
            x_first[chrom] = m
        elif set(names) != set(x_columns[chrom]):
            raise InputError(
                f"The genotype file '{path}': marker '{m}' on X chromosome '{chrom}' "
                f"{_describe_set(m, have, x_columns[chrom])}; the markers of a chromosome need the same columns "
                f"({', '.join(x_columns[chrom])}, those of '{x_first[chrom]}')."
            )
    return alleles, x_columns


def _probability_layout(path: str, map_path: str, columns: list[str], in_map: list[bool], gmap: pd.DataFrame,
                        x_chromosomes: Sequence[str]) -> tuple[list[str], tuple[str, ...], dict, np.ndarray, np.ndarray]:
    """``<marker>:<allele>`` columns: the markers, the autosomes' columns, each X chromosome's
    columns, the column order (marker-major) and the columns per marker."""
    if not all(":" in c for c in columns):
        lacking = [c for c, ok in zip(columns, in_map) if not ok and ":" not in c]
        raise InputError(
            f"The genotype map '{map_path}' lacks markers of the genotype file '{path}': {describe_ids(lacking)}. "
            "Every column of the table must be a marker of the map (dosages) or <marker>:<allele> "
            "(allele probabilities)."
        )
    by_marker = _marker_columns(path, columns)
    marker_names = list(by_marker)
    lacking = [m for m in marker_names if m not in gmap.index]
    if lacking:
        raise InputError(
            f"The genotype map '{map_path}' lacks markers of the genotype file '{path}': {describe_ids(lacking)}. "
            "Every marker of the table must be in the map."
        )
    chrom_of = dict(zip(marker_names, gmap.loc[marker_names, "chr"].astype(str)))
    alleles, x_columns = _chromosome_columns(path, by_marker, chrom_of, x_chromosomes)
    if len(alleles) < 2:
        raise InputError(
            f"The genotype file '{path}' has allele columns with a single allele ('{alleles[0]}') per marker; "
            "allele probabilities need at least two alleles per marker."
        )
    sets = [x_columns.get(chrom_of[m], alleles) for m in marker_names]
    order = np.array([by_marker[m][a] for m, names in zip(marker_names, sets) for a in names])
    return marker_names, alleles, x_columns, order, np.array([len(s) for s in sets], dtype=np.int64)


def _check_probability_sums(values: np.ndarray, path: str, ids: np.ndarray, marker_names: list[str],
                            widths: np.ndarray) -> None:
    """The columns of each marker sum to 1 in each row (rows with a missing value not checked)."""
    sums = np.add.reduceat(values, np.r_[0, np.cumsum(widths)[:-1]], axis=1) if len(widths) else values
    off = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE  # NaN rows compare False
    if off.any():
        r, m = np.argwhere(off)[0]
        raise InputError(
            f"The genotype file '{path}' has {int(off.sum())} rows whose allele probabilities do not sum to 1 "
            f"(tolerance {PROBABILITY_SUM_TOLERANCE:g}), e.g. marker '{marker_names[m]}', id '{ids[r]}': "
            f"sum {sums[r, m]:.6g}."
        )


def _unit_interval_note(values: np.ndarray, path: str, columns: list[str]) -> tuple[str, ...]:
    """A note when every dosage of a table lies in [0, 1]: perhaps one genotype's probabilities."""
    with np.errstate(invalid="ignore"):
        present = values[~np.isnan(values)]
    if present.size == 0 or present.max() > 1.0 + PROBABILITY_RANGE_TOLERANCE:
        return ()
    example = columns[0]
    return (
        f"The genotype file '{path}' has one column per marker (e.g. '{example}') and every value between 0 "
        f"and 1: the values are read as dosages (one 1-degree-of-freedom value per marker, on the scale 0 to "
        f"2). If they are the probabilities of one genotype or allele, give every allele's probability "
        f"instead, in columns named <marker>:<allele> (e.g. '{example}:A', '{example}:B'), which are read "
        "as allele probabilities.",
    )


def table_part(path: str, gmap: pd.DataFrame, map_path: str, id_column: str, na: tuple[str, ...],
               x_chromosomes: Sequence[str] = ("X",)):
    """A genotype table: the part, its kind, the autosomes' columns (alleles) and each X chromosome's."""
    ids, columns, values = _read_genotype_table(path, id_column, na)
    in_map = [c in gmap.index for c in columns]
    x_columns: dict[str, tuple[str, ...]] = {}
    if all(in_map):
        kind, alleles, marker_names, order = "dosages", (), list(columns), np.arange(len(columns))
        widths = np.ones(len(columns), dtype=np.int64)
    else:
        marker_names, alleles, x_columns, order, widths = _probability_layout(
            path, map_path, columns, in_map, gmap, x_chromosomes)
        kind = "probabilities"
    if not np.array_equal(order, np.arange(len(columns))):
        values = values[:, order]
    ordered_columns = [columns[k] for k in order]
    notes: tuple[str, ...] = ()
    if kind == "probabilities":
        check_range(values, 1.0, path, ids, ordered_columns, "probabilities", axis_ids=0)
        _check_probability_sums(values, path, ids, marker_names, widths)
    else:
        check_range(values, DOSAGE_MAX, path, ids, ordered_columns, "dosages", axis_ids=0)
        notes = _unit_interval_note(values, path, ordered_columns)
    info = gmap.loc[marker_names]
    markers = pd.DataFrame({
        "marker": marker_names, "chr": info["chr"].to_numpy(), "pos": info["pos"].to_numpy(),
        "allele": "", "other_allele": "",
    })
    bounds = np.r_[0, np.cumsum(widths)]

    def chunks(max_markers: int, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, len(marker_names), max_markers):
            stop = min(len(marker_names), start + max_markers)
            yield start, values[rows, bounds[start]:bounds[stop]].T

    part = GenotypePart(path=path, ids=ids, markers=markers, chunks=chunks, notes=notes)
    return part, kind, alleles, x_columns
