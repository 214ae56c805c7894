"""Rich renderings of plain data for the terminal (tables of provenance, summaries)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def render_provenance(console: Console, info: Mapping[str, Any]) -> None:
    """Print what :func:`emocli.provenance.describe_artifact` returned."""
    head = Table(show_header=False, title=f"[bold]{info['path']}[/]", title_justify="left")
    for key in (
        "kind",
        "stage",
        "schema_version",
        "emocli_version",
        "created_utc",
        "fingerprint",
        "n_samples",
    ):
        head.add_row(key, str(info[key]))
    head.add_row("classes", ", ".join(info["classes"]) or "-")
    head.add_row("params", json.dumps(info["params"], sort_keys=True))
    for key, value in sorted(info["extra"].items()):
        head.add_row(key, value if isinstance(value, str) else json.dumps(value))
    if info["summary"]:
        head.add_row("summary", json.dumps(info["summary"], sort_keys=True))
    console.print(head)

    inputs = Table("input", "kind", "role", "fingerprint", title="inputs", title_justify="left")
    for item in info["inputs"]:
        role = item.get("role", "")
        inputs.add_row(item["path"], item.get("kind", ""), role, item["fingerprint"][:16])
    console.print(inputs)

    datasets = Table("dataset", "shape", "dtype", title="datasets", title_justify="left")
    for item in info["datasets"]:
        datasets.add_row(item["name"], "x".join(map(str, item["shape"])) or "scalar", item["dtype"])
    console.print(datasets)
    if info["counts"]:
        console.print(counts_table(info["counts"], info["classes"]))


def counts_table(counts: Mapping[str, Mapping[str, int]], classes: Sequence[str]) -> Table:
    """A split x class table of sample counts."""
    columns = list(classes) + sorted({c for row in counts.values() for c in row} - set(classes))
    table = Table(
        "split", *columns, "total", title="samples per split and class", title_justify="left"
    )
    for split, row in sorted(counts.items()):
        table.add_row(split, *(str(row.get(c, 0)) for c in columns), str(sum(row.values())))
    return table
