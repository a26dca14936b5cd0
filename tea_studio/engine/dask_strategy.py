"""The dask strategy: each branch is one task on a Dask cluster, its events streamed back while it runs.

Where: ``--dask-scheduler ADDRESS`` or the studio's preferences, else ``settings.parallel.dask.scheduler``, else
a LocalCluster on 127.0.0.1 started once for the session and closed at its end. Workers need tea-studio
installed (they import :func:`dask_branch` and the runner).

Events travel through the worker's event log (``Worker.log_event`` → scheduler → ``Client.subscribe_topic``):
batched, in order per worker and without a round trip per event (measured against a distributed ``Queue`` in
``benchmarks/bench_executors.py``). Each event carries its branch's sequence number and the task reports how
many it sent, so the fork emits them in order and waits for the last before it takes the result; any that did
not arrive live are read back from the scheduler's log of the topic.

Stop marks the run's branches on every worker (their Lua hooks and node loop see it) and cancels what has not
started; a branch still running a grace later, or stuck in a Lua node past its timeout, has its worker restarted
(through its nanny, in the background). A worker that dies fails only the branch it ran, which is never run
again elsewhere (a second attempt of a started branch is recognised and ended).
"""

from __future__ import annotations

import os
import pickle
import queue
import socket
import threading
import time
import uuid
from typing import Any

import distributed  # noqa: F401 - ImportError here means the dask extra is missing

from tea_studio.engine.branching import (
    KILL_GRACE_S,
    STOPPED,
    BranchOutcome,
    BranchWatch,
    ForkRequest,
    cancelled,
    cancelled_outcome,
    concurrency,
    failed_outcome,
    stopped_outcome,
)
from tea_studio.engine.events import RunWarning
from tea_studio.engine.plan import scheduler_address, scheduler_problem

LATE_EVENTS_S = 5.0  # how long a finished branch waits for its last events before reading the scheduler's log
_STOPPED: set[str] = set()  # in a worker: tokens of the branches told to stop


def _mark_stopped(tokens: list[str]) -> None:
    """Runs on every worker (``Client.run``): the branches named stop at their next hook or node."""
    _STOPPED.update(tokens)


class _TopicSink:
    """Sends a branch's events to the fork through the worker's event log, numbered."""

    def __init__(self, worker: Any, topic: str, token: str, attempt: str) -> None:
        self._worker = worker
        self._topic = topic
        self._head = [token, attempt]
        self._lock = threading.Lock()
        self.sent = 0

    def emit(self, event: Any) -> None:
        try:
            data = pickle.dumps(event)
        except Exception as exc:  # noqa: BLE001 - e.g. a Python node put something unpicklable in its update
            data = pickle.dumps(RunWarning(time.monotonic(), f"an event could not be sent from the Dask worker: "
                                           f"{type(exc).__name__}: {exc}", getattr(event, "node", None),
                                           getattr(event, "branch", "")))
        with self._lock:
            self._worker.log_event(self._topic, [*self._head, self.sent, data])
            self.sent += 1


def dask_branch(topic: str, token: str, entry: Any, args: tuple[Any, ...]) -> tuple[str, int, BranchOutcome]:
    """The task: run one branch on this worker; returns (attempt, events sent, outcome)."""
    from distributed import get_worker

    worker = get_worker()
    attempt = uuid.uuid4().hex[:8]
    sink = _TopicSink(worker, topic, token, attempt)
    where = f"dask {worker.address} (process {os.getpid()})"
    try:
        outcome = entry(sink, lambda: token in _STOPPED, where, *args)
    finally:
        _STOPPED.discard(token)
    return attempt, sink.sent, outcome


def local_cluster() -> tuple[Any, Any]:
    """A LocalCluster on 127.0.0.1 (one single-threaded worker process per core, no dashboard) and its client.
    Its scheduler hands a worker one branch per thread (``worker-saturation`` 1.0; Dask's 1.1 rounds up to two
    for a one-thread worker, so two branches queued on one worker while the other idled), and the workers'
    sampling profiler is off: every 10 ms it takes the GIL from a CPU-bound Python branch to walk its stack."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.admin.tick.limit": "30s", "distributed.worker.profile.enabled": False,
                          "distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(host="127.0.0.1", n_workers=os.cpu_count() or 2, threads_per_worker=1,
                               processes=True, dashboard_address=None, silence_logs=50,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # (its HTTP server, if any)
        return cluster, Client(cluster, set_as_default=False)


def _connected_client(address: str) -> Any:
    """A Client of the scheduler at ``address``. A bad address or a port where nothing listens fails here, in one
    line: a Client that fails to connect leaves a half-made object whose clean-up prints tracebacks at exit."""
    from distributed import Client

    found = scheduler_address(address)
    if found is None:
        raise ValueError(scheduler_problem(address))
    scheme, host, port = found
    if scheme != "ucx":  # the others run over TCP
        try:
            socket.create_connection((host, port), timeout=10).close()
        except OSError as exc:
            raise OSError(f"nothing answers at {host}:{port} ({exc.strerror or exc})") from None
    return Client(address, set_as_default=False, timeout=10)


class DaskStrategy:
    """Branches as Dask tasks, on a cluster at ``address`` or on a LocalCluster started on first use."""

    name = "dask"

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._cluster: Any = None
        self._client: Any = None
        self._failure: Exception | None = None  # why the background connection failed: the next fork says it

    @property
    def client(self) -> Any:
        return self._connect(background=False)

    def _connect(self, *, background: bool) -> Any:
        with self._lock:
            if self._client is None:
                failure, self._failure = self._failure, None
                if failure is not None:  # the fork's own try would only wait as long again
                    raise failure
                try:
                    if self.address:
                        self._client = _connected_client(self.address)
                    else:
                        self._cluster, self._client = local_cluster()
                except Exception as exc:
                    if background:
                        self._failure = exc
                    raise
            return self._client

    def warm(self, count: int = 0) -> None:
        """Connect (or start the LocalCluster) in the background; a failure is reported by the first fork."""

        def connect() -> None:
            try:
                self._connect(background=True)
            except Exception:  # noqa: BLE001, S110 - kept in self._failure for the fork that needs the client
                pass

        threading.Thread(target=connect, name="tea-dask-connect", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def run_fork(self, request: ForkRequest) -> list[BranchOutcome]:
        request.check_picklable()
        try:
            client = self.client
        except Exception as exc:  # noqa: BLE001 - unreachable scheduler, cluster that cannot start
            message = f"cannot reach the Dask scheduler {self.address or '(local cluster)'}: {exc}"
            return [failed_outcome(i, name, message) for i, name in enumerate(request.names)]
        return _DaskFork(client, request).run()


class _Branch:
    def __init__(self, watch: BranchWatch, token: str) -> None:
        self.watch = watch
        self.token = token
        self.future: Any = None
        self.attempt: str | None = None
        self.next_seq = 0
        self.early: dict[int, Any] = {}  # events that arrived before one with a lower number
        self.result: tuple[str, int, BranchOutcome] | None = None
        self.waiting_since = 0.0
        self.outcome: BranchOutcome | None = None

    @property
    def address(self) -> str | None:
        parts = self.watch.where.split()
        return parts[1] if len(parts) > 1 and parts[0] == "dask" else None


class _DaskFork:
    def __init__(self, client: Any, request: ForkRequest) -> None:
        self.client = client
        self.request = request
        self.sink = request.sink
        self.timeout = request.lua_timeout
        self.topic = f"tea-branches-{uuid.uuid4().hex}"
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.branches = [_Branch(BranchWatch(i, name, request.plan), f"{self.topic}-{i}")
                         for i, name in enumerate(request.names)]
        self.by_token = {branch.token: branch for branch in self.branches}
        self.waiting = list(self.branches)
        self.limit = concurrency(request, request.plan.limits.max_workers or _cluster_threads(client))

    def run(self) -> list[BranchOutcome]:
        request = self.request
        client = self.client
        client.subscribe_topic(self.topic, lambda event: self.inbox.put(("event", event[1])))
        request.control.on_stop(lambda: self.inbox.put(("stop", None)))
        stop_deadline: float | None = None
        try:
            self._submit_more()
            while any(branch.outcome is None for branch in self.branches):
                if request.control.stopped and stop_deadline is None:
                    stop_deadline = time.monotonic() + KILL_GRACE_S
                    self._tell_stop([b for b in self.branches if b.outcome is None])
                timeout = self._wait_time(stop_deadline)
                try:
                    kind, item = self.inbox.get(timeout=timeout)
                except queue.Empty:
                    kind, item = "tick", None
                if kind == "event":
                    self._event(item)
                elif kind == "done":
                    self._done(item)
                self._check(stop_deadline)
                if stop_deadline is None:
                    self._submit_more()
        finally:
            try:
                client.unsubscribe_topic(self.topic)
            except Exception:  # noqa: BLE001 - the client is closing
                pass
        return [branch.outcome for branch in self.branches]  # type: ignore[misc]

    def _submit_more(self) -> None:
        """Submit waiting branches while fewer than the fork's concurrency run (``max_workers``, else the
        cluster's worker threads; capped by a dynamic_parallel's ``max_concurrency``); after a failure with
        ``fail_fast``, cancel them."""
        request = self.request
        outcomes = [branch.outcome for branch in self.branches]
        running = sum(1 for b in self.branches if b.future is not None and b.outcome is None)
        while self.waiting and running < self.limit:
            branch = self.waiting.pop(0)
            i = branch.watch.index
            if cancelled(request, outcomes):
                branch.outcome = cancelled_outcome(i, branch.watch.name)
                continue
            branch.future = self.client.submit(dask_branch, self.topic, branch.token, request.entry,
                                               request.remote_args(i), key=branch.token, pure=False, retries=0)
            branch.future.add_done_callback(lambda _, b=branch: self.inbox.put(("done", b)))
            running += 1

    def _wait_time(self, stop_deadline: float | None) -> float | None:
        deadlines = [d for d in (b.watch.deadline(self.timeout) for b in self.branches if b.outcome is None)
                     if d is not None]
        deadlines += [b.waiting_since + LATE_EVENTS_S for b in self.branches if b.result and b.outcome is None]
        if stop_deadline is not None:
            deadlines.append(stop_deadline)
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _event(self, message: Any) -> None:
        token, attempt, seq, data = message
        branch = self.by_token.get(token)
        if branch is None or branch.outcome is not None:
            return
        if branch.attempt is None:
            branch.attempt = attempt
        elif attempt != branch.attempt:  # the scheduler started it again: the worker that ran it died
            self._lost(branch, "died")
            return
        branch.early[seq] = data
        while branch.next_seq in branch.early:
            event = pickle.loads(branch.early.pop(branch.next_seq))
            branch.next_seq += 1
            branch.watch.track(event)
            self.sink.emit(event)
        self._maybe_finish(branch)

    def _done(self, branch: _Branch) -> None:
        if branch.outcome is not None:
            return
        future = branch.future
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            self._lost(branch, f"died ({type(exc).__name__}: {exc})")
            return
        branch.result = future.result()
        branch.waiting_since = time.monotonic()
        self._maybe_finish(branch)

    def _maybe_finish(self, branch: _Branch) -> None:
        if branch.result is None or branch.outcome is not None:
            return
        attempt, sent, outcome = branch.result
        if branch.attempt is not None and attempt != branch.attempt:
            self._lost(branch, "died")
        elif branch.next_seq >= sent:
            branch.outcome = outcome

    def _check(self, stop_deadline: float | None) -> None:
        now = time.monotonic()
        for branch in self.branches:
            if branch.outcome is not None:
                continue
            if branch.result is not None and now >= branch.waiting_since + LATE_EVENTS_S:
                self._read_log(branch)
                continue
            culprit = branch.watch.overdue(now, self.timeout)
            if culprit is not None:
                self._end(branch, f"execution timeout ({self.timeout:g} s)", culprit)
            elif stop_deadline is not None and now >= stop_deadline:
                self._end(branch, STOPPED, None, stopped=True)

    def _read_log(self, branch: _Branch) -> None:
        """The events that did not arrive live, from the scheduler's log of the topic."""
        for _, message in self.client.get_events(self.topic):
            if message[0] == branch.token and message[1] == branch.attempt and message[2] >= branch.next_seq:
                branch.early.setdefault(message[2], message[3])
        while branch.next_seq in branch.early:
            event = pickle.loads(branch.early.pop(branch.next_seq))
            branch.next_seq += 1
            branch.watch.track(event)
            self.sink.emit(event)
        attempt, sent, outcome = branch.result  # type: ignore[misc]
        if branch.next_seq < sent:
            self.sink.emit(RunWarning(time.monotonic(), f"{sent - branch.next_seq} events of branch "
                                      f"'{branch.watch.name}' were lost on the way from its Dask worker",
                                      None, branch.watch.name))
        branch.outcome = outcome

    def _tell_stop(self, branches: list[_Branch]) -> None:
        """Branches not seen running are cancelled; running ones are told to stop (and restarted later if not)."""
        for branch in self.waiting:
            branch.outcome = stopped_outcome(branch.watch.index, branch.watch.name)
        self.waiting = []
        branches = [b for b in branches if b.future is not None]
        try:
            self.client.run(_mark_stopped, [b.token for b in branches], on_error="ignore")
        except Exception:  # noqa: BLE001 - the restart after the grace ends them anyway
            pass
        for branch in branches:
            if branch.attempt is None:
                branch.future.cancel()
                branch.outcome = stopped_outcome(branch.watch.index, branch.watch.name)

    def _lost(self, branch: _Branch, how: str) -> None:
        where = f" ({branch.address})" if branch.address else ""
        branch.future.cancel()
        branch.outcome = branch.watch.fail(self.sink, f"branch worker failed: the Dask worker running it{where} "
                                           f"{how}")

    def _end(self, branch: _Branch, message: str, culprit: tuple[str, str] | None, *,
             stopped: bool = False) -> None:
        """Report a branch that does not end by itself as failed, cancel it and restart its worker (in the
        background: a restart takes seconds, the fork need not wait for it)."""
        branch.future.cancel()
        branch.outcome = branch.watch.fail(self.sink, message, culprit, stopped=stopped)
        address = branch.address
        if address:
            threading.Thread(target=_restart_worker, args=(self.client, address), name="tea-dask-restart",
                             daemon=True).start()


def _cluster_threads(client: Any) -> int:
    """How many branches the cluster runs at once (its worker threads)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - the scheduler went away: the submissions report it
        return 1


def _restart_worker(client: Any, address: str) -> None:
    try:
        client.restart_workers([address], raise_for_error=False)
    except Exception:  # noqa: BLE001 - no nanny, or the client closed: the abandoned task's result is ignored
        pass

