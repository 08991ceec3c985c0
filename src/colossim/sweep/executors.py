"""Where the points of a sweep run: an embedded local process pool (the default; no
server) or Ray (a local instance or an existing cluster; ``pip install 'colossim[ray]'``).

Both take picklable tasks and a module-level function and yield results as points
finish, in completion order, keeping at most a few tasks per worker in flight.
"""

from __future__ import annotations

import enum
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from colossim.errors import InputError

__all__ = ["Executor", "check_executor", "default_workers", "run_tasks"]

# Tasks queued per worker beyond the one running: keeps workers busy without
# materialising every pending point in the pool.
_IN_FLIGHT_PER_WORKER = 4


class Executor(enum.StrEnum):
    LOCAL = "local"
    RAY = "ray"


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_executor(executor: Executor, address: str | None) -> None:
    """Fail before any work (and before a store is created) on an executor that cannot
    run: Ray not installed, or an address without Ray."""
    if executor is Executor.RAY:
        try:
            import ray  # noqa: F401 - only whether it imports
        except ImportError:
            raise _ray_missing() from None
    elif address is not None:
        raise InputError("--address", "only with --executor ray", value=address)


def _ray_missing() -> InputError:
    return InputError(
        "--executor",
        "ray is not installed",
        value="ray",
        fix="pip install 'colossim[ray]' (or use the default local executor)",
    )


def run_tasks(
    fn: Callable[[Any], dict],
    tasks: Iterable[Any],
    *,
    executor: Executor,
    workers: int,
    address: str | None = None,
) -> Iterator[dict]:
    """``fn(task)`` for every task, yielded as each finishes.

    Args:
        fn: a module-level function (workers import it by name).
        tasks: picklable task objects.
        executor: local process pool or Ray.
        workers: processes (local; 1 runs in this process) or Ray CPUs of a local
            instance (ignored when joining a cluster: Ray schedules on all of it).
        address: Ray cluster address (``auto``, ``ray://host:10001``); None starts a
            local instance unless one is already running in this process.
    """
    check_executor(executor, address)
    if executor is Executor.RAY:
        return _ray(fn, tasks, workers=workers, address=address)
    if workers == 1:
        return (fn(t) for t in tasks)
    return _local(fn, tasks, workers=workers)


def _local(fn: Callable[[Any], dict], tasks: Iterable[Any], *, workers: int) -> Iterator[dict]:
    # forkserver: workers fork from a clean server that imported colossim once (fast
    # start, and no fork of this process's threads, e.g. a progress bar's).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        ctx.set_forkserver_preload(["colossim.pipeline", fn.__module__])
    it = iter(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = set()
        try:
            while True:
                while len(pending) < workers * _IN_FLIGHT_PER_WORKER:
                    task = next(it, None)
                    if task is None:
                        break
                    pending.add(pool.submit(fn, task))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        except BrokenProcessPool:
            raise RuntimeError(
                "a sweep worker process died (killed, out of memory, or a script that starts"
                " a sweep without `if __name__ == '__main__':`); finished points are stored:"
                " rerun with --resume"
            ) from None
        finally:
            for fut in pending:
                fut.cancel()


def _ray(
    fn: Callable[[Any], dict], tasks: Iterable[Any], *, workers: int, address: str | None
) -> Iterator[dict]:
    try:
        import ray
    except ImportError:
        raise _ray_missing() from None
    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            options["num_cpus"] = workers
        try:
            ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InputError("--address", f"cannot connect to Ray: {exc}", value=address) from None
        started = True
    try:
        remote = ray.remote(num_cpus=1)(fn)
        slots = max(int(ray.cluster_resources().get("CPU", workers)), 1)
        it = iter(tasks)
        pending: list = []
        while True:
            while len(pending) < slots * _IN_FLIGHT_PER_WORKER:
                task = next(it, None)
                if task is None:
                    break
                pending.append(remote.remote(task))
            if not pending:
                return
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()
