"""Checkpoints: one msgpack file (flax.serialization) written atomically, with a sha256 beside it so
a truncated or corrupt file is reported as such. One file and no background threads suits the
single final state of a jitted run; orbax would serve sharded multi-host states."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from flax import serialization

CHECKPOINT = "checkpoint.msgpack"
META = "checkpoint.json"


class CheckpointError(RuntimeError):
    pass


def save(directory: str | Path, tree, meta: dict | None = None) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = serialization.to_bytes(tree)
    path = directory / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # never leaves a half-written checkpoint under the real name
    info = dict(meta or {}, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (directory / META).write_text(json.dumps(info, indent=2))
    return path


def load(directory: str | Path, target):
    """Restore into the structure of `target` (e.g. from jax.eval_shape); errors name the cause."""
    directory = Path(directory)
    path = directory / CHECKPOINT
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    data = path.read_bytes()
    meta_path = directory / META
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{meta_path} is corrupt ({e})") from None
        digest = hashlib.sha256(data).hexdigest()
        if meta.get("sha256") not in (None, digest):
            raise CheckpointError(f"checkpoint {path} is corrupt: sha256 {digest[:12]}… does not match "
                                  f"{meta['sha256'][:12]}… recorded when it was written "
                                  f"({len(data)} bytes now, {meta.get('bytes')} then)")
    try:
        restored = serialization.from_bytes(target, data)
    except Exception as e:  # msgpack or structure mismatch
        raise CheckpointError(f"checkpoint {path} cannot be restored: {type(e).__name__}: {e}") from None
    _check_fits(path, restored, target)
    return restored


def _check_fits(path: Path, restored, target) -> None:
    """flax restores a state dict into `target` by its keys and leaves a mismatched subtree as it was stored
    (a dict where an array belongs, an array of another shape): such a checkpoint is refused by name."""
    import jax

    got, _ = jax.tree_util.tree_flatten_with_path(restored)
    want, _ = jax.tree_util.tree_flatten_with_path(target)
    got_paths = [jax.tree_util.keystr(p) for p, _ in got]
    want_paths = [jax.tree_util.keystr(p) for p, _ in want]
    if got_paths != want_paths:
        n = min(len(got_paths), len(want_paths))
        first = next((w for g, w in zip(got_paths, want_paths) if g != w),
                     want_paths[n] if len(want_paths) > n else got_paths[n])  # one is the other's prefix
        raise CheckpointError(
            f"checkpoint {path} does not fit this run's state: it holds {len(got_paths)} arrays where "
            f"{len(want_paths)} are expected, first differing at {first} (written by another jaxrl version "
            f"or another config?)")
    for (p, g), (_, w) in zip(got, want):
        if hasattr(w, "shape") and (getattr(g, "shape", None) != w.shape or getattr(g, "dtype", None) != w.dtype):
            raise CheckpointError(
                f"checkpoint {path} does not fit this run's state: {jax.tree_util.keystr(p)} is "
                f"{getattr(g, 'dtype', type(g).__name__)}{list(getattr(g, 'shape', []))} in the checkpoint, "
                f"{w.dtype}{list(w.shape)} expected (written by another jaxrl version or another config?)")
