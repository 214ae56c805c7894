"""Rich renderings of plain data for the terminal (tables of provenance, summaries)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from emocli.export import ExportResult
    from emocli.predict import PredictResult

#: Class names are cut to this many characters in the header of predict's table.
CLASS_HEADER = 4


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


def count_table(
    title: str,
    names: Sequence[str],
    counts: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> Table:
    """A table of ``rows``: their text columns ``names`` (``-`` when empty), then their
    counts ``counts``, right-aligned (0 when missing)."""
    table = Table(title=title, title_justify="left")
    for name in names:
        table.add_column(name, justify="left")
    for name in counts:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*(row[k] or "-" for k in names), *(str(row.get(k, 0)) for k in counts))
    return table


#: The columns of evaluate's comparison of its inputs (terminal and report.md), before the
#: folds' summary.
COMPARISON_COLUMNS = (
    "input",
    "modality",
    "level",
    "split",
    "n",
    "accuracy",
    "macro-F1",
    "weighted-F1",
)


def evaluation_table(summary: Mapping[str, Any]) -> Table:
    """evaluate's comparison table: per input, its split, accuracy, F1s and fold summary."""
    table = Table(
        *COMPARISON_COLUMNS,
        "folds",
        title=f"evaluation (requested split: {summary['requested_split']})",
        title_justify="left",
    )
    for row in summary["inputs"]:
        folds = row.get("folds")
        fold_text = (
            f"{100 * folds['mean']['accuracy']:.2f} ± {100 * folds['std']['accuracy']:.2f} %"
            if folds
            else "-"
        )
        table.add_row(
            row["name"],
            row["modality"] or "-",
            row["level"],
            row["split"],
            str(row["n"]),
            f"{100 * row['accuracy']:.2f} %",
            f"{100 * row['macro_f1']:.2f} %",
            f"{100 * row['weighted_f1']:.2f} %",
            fold_text,
        )
    return table


def per_class_table(per_class: Mapping[str, Mapping[str, Any]]) -> Table:
    """Precision, recall, F1 and support of each class (``metrics.json``'s ``per_class``)."""
    table = Table(
        "class", "precision", "recall", "F1", "support", title="per class", title_justify="left"
    )
    for name, m in per_class.items():
        table.add_row(
            name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])
        )
    return table


def render_predictions(console: Console, result: PredictResult) -> None:
    """Print what :func:`emocli.predict.predict` returned: per clip, the modalities used, the
    predicted class and every class's probability (%); then each clip's notes."""
    fusions = sorted({c.fusion for c in result.clips if c.fusion})
    table = Table(
        title="Per-clip probabilities (%)",
        title_justify="left",
        caption=f"fusion: {', '.join(fusions)}" if fusions else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("clip", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("pred", style="bold", no_wrap=True)
    for name in result.classes:
        table.add_column(name[:CLASS_HEADER], justify="right", no_wrap=True)
    for clip in result.clips:
        if clip.probs is None:
            cells = ["-"] * len(result.classes)
        else:
            best = int(clip.probs.argmax())
            cells = [
                f"[bold]{p * 100:.0f}[/]" if k == best else f"{p * 100:.0f}"
                for k, p in enumerate(clip.probs)
            ]
        table.add_row(
            clip.name,
            "+".join(clip.modalities) or "-",
            clip.predicted(result.classes) or "-",
            *cells,
        )
    console.print(table)
    for clip in result.clips:
        for note in clip.notes:
            console.print(f"[yellow]{clip.name}[/]: {note}")


def export_line(result: ExportResult) -> str:
    """What ``emocli export`` wrote: the file, the model, the input it takes (shape and
    normalisation) and the checks of the graph against torch (and of an int8 graph against
    the float32 one)."""
    r = result
    c, h, w = r.input_shape
    check = (
        f"onnxruntime vs torch: max |diff| {r.max_abs_diff:.1e}"
        if r.max_abs_diff is not None
        else "not checked: onnxruntime is not installed"
    )
    if r.int8 is not None:
        check += (
            f"; int8 vs float32 on {r.int8['rows']} calibration rows: top-1 agreement "
            f"{r.int8['agreement']:.1%}, max |diff| {r.int8['max_abs_diff']:.2g}"
        )
    return (
        f"[green]export[/]: wrote {r.path} ({r.architecture}, {len(r.classes)} classes; "
        f"input float32 [N, {c}, {h}, {w}] = {formula(r.scale, r.mean, r.std)}; "
        f"output: probabilities; {check})"
    )


def formula(scale: float, mean: Sequence[float], std: Sequence[float]) -> str:
    """``(x / 255 - 0.5) / 0.5``, ``(x + 0.0036) / 0.9988`` (per-channel values as lists)."""
    x = "x" if scale == 1 else f"x / {scale:g}"
    if all(m == 0 for m in mean):
        shifted = x
    elif all(m < 0 for m in mean):
        shifted = f"({x} + {_floats([-m for m in mean])})"
    else:
        shifted = f"({x} - {_floats(mean)})"
    return shifted if all(s == 1 for s in std) else f"{shifted} / {_floats(std)}"


def _floats(values: Sequence[float]) -> str:
    """One value when they are all equal, else the list: ``0.5``, ``[0.485, 0.456, 0.406]``."""
    text = [f"{v:g}" for v in values]
    return text[0] if len(set(text)) == 1 else "[" + ", ".join(text) + "]"


def _headline(figures: Mapping[str, Any]) -> str:
    """A card's figures in one phrase: accuracy and macro-F1 (%) on its held-out split, and the
    int8 graph's accuracy when it has one (``emocli models show NAME`` prints them all)."""
    if "accuracy" not in figures:
        return "; ".join(f"{k}: {v}" for k, v in figures.items())
    text = (
        f"{figures['accuracy']} % accuracy, macro-F1 {figures.get('macro_f1', '?')} on "
        f"{figures.get('n', '?')} held-out {figures.get('split', '')} rows"
    )
    int8 = figures.get("int8")
    if isinstance(int8, Mapping) and "accuracy" in int8:
        text += f" (its int8 graph: {int8['accuracy']} %)"
    return text


def model_line(row: Mapping[str, Any]) -> str:
    """One bundled model of :func:`emocli.zoo.list_models`: name and summary; architecture,
    size, classes, training data and figures when installed, else how to build it."""
    if not row["installed"]:
        return (
            f"[bold]{row['name']}[/]: {row['summary']} - not in this installation "
            f"({row['path']}; make zoo builds it)"
        )
    card = row["card"]
    figures = card.get("figures") or {}
    if isinstance(figures, dict):
        figures = _headline(figures)
    return (
        f"[bold]{row['name']}[/]: {row['summary']}; {row['architecture']}, "
        f"{row['size_mb']} MB, classes {', '.join(row['classes'])}; trained on "
        f"{card.get('training_data', '?')}; {figures}"
    )
