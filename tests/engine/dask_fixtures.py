"""Real Dask clusters for the strategy tests: a LocalCluster session, and ``dask scheduler`` plus two
``dask worker`` processes on 127.0.0.1 (each torn down when the test module ends, before any Qt test runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest

from tea_studio.engine.executors import Strategies


class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes started on loopback."""

    def __init__(self, folder: str, workers: int = 2) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        dask = os.path.join(os.path.dirname(sys.executable), "dask")
        self.log = open(os.path.join(folder, "cluster.log"), "wb")  # noqa: SIM115 - closed in close()
        scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                                     stdout=self.log, stderr=subprocess.PIPE, cwd=folder,
                                     env={**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"})
        self.processes.append(scheduler)
        self.address = self._scheduler_address(scheduler)
        for _ in range(workers):
            self.processes.append(subprocess.Popen(
                [dask, "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                 "--no-dashboard", "--local-directory", folder], stdout=self.log, stderr=self.log, cwd=folder,
                env={**os.environ, "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}))  # as the README says
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def _scheduler_address(self, scheduler: subprocess.Popen) -> str:
        """The address the scheduler logs once it listens; its log then keeps going to cluster.log."""
        for raw in scheduler.stderr:
            self.log.write(raw)
            found = re.search(r"Scheduler at:\s+(tcp://\S+)", raw.decode(errors="replace"))
            if found:
                threading.Thread(target=self._copy, args=(scheduler.stderr,), daemon=True).start()
                return found.group(1)
        raise RuntimeError(f"dask scheduler exited; see {self.folder}/cluster.log")

    def _copy(self, stream) -> None:
        for raw in stream:
            self.log.write(raw)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def dask_local():
    """Strategies whose dask branches run on a LocalCluster started once for the module."""
    strategies = Strategies()
    yield strategies
    strategies.close()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    cluster = DaskCluster(str(tmp_path_factory.mktemp("dask-cluster")))
    strategies = Strategies(dask_scheduler=cluster.address)
    yield cluster, strategies
    strategies.close()
    cluster.close()
