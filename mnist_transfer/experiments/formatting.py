"""Figures as the docs' tables show them: one way to write a mean over seeds, and a table."""

import pandas as pd


def markdown(columns: list[str], rows: list[list[str]]) -> str:
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    return "\n".join([header, *("| " + " | ".join(row) + " |" for row in rows)])


def mean_sd(
    values: pd.Series, percent: bool = False, digits: int = 0, extremes: bool = False, signed: bool = False
) -> str:
    """mean ± sd over seeds, with (min-max) if `extremes` and the mean's sign if `signed` (a
    change); one seed is one draw, shown alone."""
    values = values.dropna().astype(float) * (100 if percent else 1)
    if values.empty:
        return "n/a"
    unit = " %" if percent else ""
    mean = f"{values.mean():{'+' if signed else ''}.{digits}f}"
    if len(values) == 1 or round(values.std(ddof=1), digits) == 0:
        return f"{mean}{unit}"
    shown = f"{mean} ± {values.std(ddof=1):.{digits}f}{unit}"
    # A change's range can start below zero: "to" keeps its minus sign from reading as a dash.
    between = " to " if signed else "-"
    return shown + (f" ({values.min():.{digits}f}{between}{values.max():.{digits}f})" if extremes else "")
