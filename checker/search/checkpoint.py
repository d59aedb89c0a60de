"""The checkpoint of a partitioned search: its manifest, what it records and when it fits.

``manifest.json`` names the run (the job: spec, parameters, symmetry, properties, kernel,
``--continue``), the number of partitions, the round size and every tally so far; it is
replaced atomically after every round (levels.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from checker.errors import ElectkitError

MANIFEST = "manifest.json"
FORMAT = 2


def save_manifest(folder: Path, job: tuple, workers: int, round_size: int, tallies: dict) -> None:
    """Replace the manifest in ``folder`` atomically."""
    manifest = {
        "format": FORMAT,
        "job": job_to_json(job),
        "workers": workers,
        "round_size": round_size,
        "tallies": tallies,
    }
    path = folder / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, path)


def open_manifest(folder: Path, job: tuple, resume: bool, workers: int) -> dict | None:
    """The checkpoint to resume (None: a new run); ElectkitError if it does not fit."""
    path = folder / MANIFEST
    if not resume:
        if path.exists():
            raise ElectkitError(
                f"--checkpoint {folder}: it already holds a checkpoint (resume it with "
                "--resume, or give a new folder)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return None
    if not path.is_file():
        raise ElectkitError(f"--resume {folder}: no checkpoint there ({MANIFEST} is missing)")
    try:
        manifest = json.loads(path.read_text())
        if manifest["format"] != FORMAT:
            raise ValueError(f"format {manifest['format']}; this electkit reads {FORMAT}")
        saved_job = job_from_json(manifest["job"])
        saved_workers, _ = manifest["workers"], manifest["round_size"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ElectkitError(f"--resume {folder}: {MANIFEST} is damaged ({exc})") from None
    if saved_job != job:
        raise ElectkitError(
            f"--resume {folder}: the checkpoint is of another run ({describe(saved_job)}); "
            f"this one is {describe(job)}"
        )
    if saved_workers != workers:
        raise ElectkitError(
            f"--resume {folder}: the checkpoint was made with --workers {saved_workers}; resume "
            f"with --workers {saved_workers}"
        )
    return manifest


def job_to_json(job: tuple) -> list:
    spec, params, symmetric, props, generic, keep_going = job
    return [spec, [list(p) for p in params], symmetric, props and list(props), generic, keep_going]


def job_from_json(value: list) -> tuple:
    spec, params, symmetric, props, generic, keep_going = value
    return (
        spec,
        tuple(tuple(p) for p in params),
        symmetric,
        tuple(props) if props is not None else None,
        generic,
        keep_going,
    )


def describe(job: tuple) -> str:
    spec, params, symmetric, props, _, keep_going = job
    text = f"{spec} " + " ".join(f"{k}={v}" for k, v in params)
    text += "" if symmetric else " without symmetry"
    text += f" properties {','.join(props)}" if props else ""
    return text + (" --continue" if keep_going else "")
