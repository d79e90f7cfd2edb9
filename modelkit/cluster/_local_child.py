"""The child process of :func:`modelkit.cluster.run_local`: ``python -m modelkit.cluster._local_child JOB_DIR``.

Runs the pickled job with the engine task of a cluster run and leaves ``result.pkl`` or ``error.pkl``
(exception name, message, traceback) in the job folder, each written atomically.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback


def _write(path: str, obj: object) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)


def main(job_dir: str) -> int:
    """Run the job of ``job_dir``; 0 on success, 1 when the simulation raised."""
    from modelkit.cluster.live import _engine_task

    with open(os.path.join(job_dir, "job.pkl"), "rb") as f:
        job = pickle.load(f)
    try:
        result = _engine_task(*job)
    except BaseException as e:
        _write(os.path.join(job_dir, "error.pkl"), (type(e).__name__, str(e), traceback.format_exc()))
        return 1
    _write(os.path.join(job_dir, "result.pkl"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
