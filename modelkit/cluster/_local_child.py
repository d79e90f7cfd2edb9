"""The child process of :func:`modelkit.cluster.run_local`: ``python -m modelkit.cluster._local_child JOB_DIR``.

Runs the pickled job with the engine task of a cluster run and leaves ``result.pkl`` or ``error.pkl``
(exception name, message, traceback) in the job folder, each written atomically.

``... JOB_DIR --wait [MODULE ...]`` is a child started ahead of its run (:func:`modelkit.cluster.prestart_local`):
it imports modelkit's simulator and the modules named (``nest``), then waits for a line on its stdin, which
the notebook writes once the job is in ``JOB_DIR``; an end of file (the notebook gone, or the child no
longer wanted) ends it without running anything.
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


def main(job_dir: str, wait: bool = False, preload: tuple[str, ...] = ()) -> int:
    """Run the job of ``job_dir``; 0 on success (or no job given to a waiting child), 1 when the simulation raised."""
    import importlib

    from modelkit.cluster.live import _engine_task

    if wait:
        import modelkit.simulator.run  # noqa: F401 - what every run needs, imported while nobody waits
        for name in preload:
            try:
                importlib.import_module(name)
            except ImportError:  # the run says what is missing, when it needs it
                pass
        sys.stdout.flush()
        open(os.path.join(job_dir, "ready"), "w").close()  # imports done: what prestarted_ready() reads
        if not sys.stdin.readline().strip():  # not wanted (the notebook ended): its folder goes too
            import shutil
            shutil.rmtree(job_dir, ignore_errors=True)
            return 0

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
    code = main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "--wait", tuple(sys.argv[3:]))
    sys.stdout.flush()
    sys.stderr.flush()
    # the result is written: the simulator's teardown at interpreter exit (NEST's, 0.3-0.5 s) would only delay
    # the notebook seeing the run done
    os._exit(code)
