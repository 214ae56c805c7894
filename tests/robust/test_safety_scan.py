"""Nothing from a user file is unpickled or evaluated: an AST scan of every source file.

Forbidden: importing pickle-like modules (pickle, cPickle, dill, joblib, shelve, marshal),
``torch.load`` without ``weights_only=True``, ``np.load(..., allow_pickle=True)``,
``yaml.load``, the ``eval``/``exec`` builtins, and ``shell=True`` in any call. HDF5
attributes are read with ``json.loads`` only (checked in emocli/artifacts/).
"""

from __future__ import annotations

import ast

from tests.robust.helpers import REPO, record

#: Modules that unpickle (or run) arbitrary objects from bytes.
PICKLE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "joblib",
    "shelve",
    "marshal",
    "cloudpickle",
}
SCANNED = ("emocli", "stages")


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def findings(source: str, where: str) -> list[str]:
    """Every forbidden construct in ``source`` as ``where:line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = f"{where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [
                f"{line}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in PICKLE_MODULES
            ]
        elif (
            isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES
        ):
            found.append(f"{line}: from {node.module} import")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
                found.append(f"{line}: {name}()")
            if "shell" in keywords and _is_true(keywords["shell"]):
                found.append(f"{line}: {name}(shell=True)")
            weights_only = _is_true(keywords.get("weights_only", ast.Constant(False)))
            if name.endswith("torch.load") and not weights_only:
                found.append(f"{line}: {name} without weights_only=True")
            numpy_load = name.endswith(".load") and name.split(".")[0] in ("np", "numpy")
            if numpy_load and _is_true(keywords.get("allow_pickle", ast.Constant(False))):
                found.append(f"{line}: {name}(allow_pickle=True)")
            if name in ("yaml.load", "yaml.unsafe_load", "pd.read_pickle", "pandas.read_pickle"):
                found.append(f"{line}: {name}")
    return found


def test_the_scanner_catches_each_forbidden_construct() -> None:
    bad = (
        "import pickle\nfrom dill import loads\nimport torch\nimport numpy as np\n"
        "torch.load('m.pth')\ntorch.load('m.pth', weights_only=False)\neval('1')\nexec('x')\n"
        "subprocess.run('ls', shell=True)\nnp.load('a.npy', allow_pickle=True)\nyaml.load(s)\n"
    )
    assert len(findings(bad, "bad.py")) == 9
    good = "import torch\ntorch.load('m.pth', weights_only=True)\nmodel.eval()\njson.loads(s)\n"
    assert findings(good, "good.py") == []


def test_no_source_file_unpickles_or_evaluates() -> None:
    files = sorted(p for d in SCANNED for p in (REPO / d).rglob("*.py"))
    assert len(files) > 20
    found = [f for p in files for f in findings(p.read_text(), str(p.relative_to(REPO)))]
    record(files_scanned=len(files))
    assert not found, "\n".join(found)


def test_hdf5_attributes_are_decoded_as_json_only() -> None:
    trees = [ast.parse(p.read_text()) for p in (REPO / "emocli" / "artifacts").glob("*.py")]
    loaders = {_dotted(n.func) for t in trees for n in ast.walk(t) if isinstance(n, ast.Call)}
    assert "json.loads" in loaders
    assert not loaders & {"eval", "exec", "ast.literal_eval", "pickle.loads"}
