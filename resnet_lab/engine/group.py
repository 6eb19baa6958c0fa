"""Several nets trained together in one process, each recorded as the run it is alone.

:func:`train_runs` trains a group of runs of the run store at once. Every run goes through the store exactly as
one trained alone (``RunStore.get_or_train``: its lock, its resumable checkpoint in ``.partial/``, its record, its
id), each in a thread of its own that sets its net up and then hands it to the group (:meth:`Group.submit`
inside :func:`resnet_lab.train.train`); the calling thread trains the handed-over nets together
(:func:`~resnet_lab.engine.loop.train_together`: one iteration of each in turn, each on its own CUDA stream)
and hands each result back to its thread, which writes its record. Nothing in ``runs.py`` knows about groups.

:func:`engine_options` says how steps run (``graph``: a CUDA graph per step), set with :func:`use_engine`.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, replace

from .loop import train_together

SETUP_PATIENCE = 60.0  # s: a thread still setting up its net this long (e.g. waiting on another process's lock
#                        of its run) is left out of this round; it joins the next one


@dataclass(frozen=True)
class EngineOptions:
    graph: bool | None = None  # a CUDA graph per training step (CUDA only); None: the default, eager
    lr_on_device: bool = True  # the update reads the lr from a device tensor (else: a host number, torch's op)


_options = EngineOptions()
_local = threading.local()


def engine_options() -> EngineOptions:
    return _options


@contextlib.contextmanager
def use_engine(**changes):
    """``with use_engine(graph=True): ...``: the engine options of every run trained inside (all threads)."""
    global _options
    old = _options
    _options = replace(old, **changes)
    try:
        yield _options
    finally:
        _options = old


def current_group() -> "Group | None":
    """The group this thread's run belongs to, or None (a run trained alone)."""
    return getattr(_local, "group", None)


class _Handover:
    def __init__(self, trainer):
        self.trainer, self.result, self.error, self.done = trainer, None, None, threading.Event()


class Group:
    """The meeting point of one group's threads and the thread that trains their nets."""

    def __init__(self, n: int):
        self.cv = threading.Condition()
        self.setting_up = n  # threads not yet handed over nor finished
        self.pending: list[_Handover] = []
        self.shared: dict = {}  # the data on the device, shared by the group's nets
        self.changed = time.monotonic()

    def submit(self, trainer):
        """In a run's thread (from ``train()``): hand the set-up net over, wait for its result (or its error)."""
        box = _Handover(trainer)
        _local.handed_over = True
        with self.cv:
            self.pending.append(box)
            self.setting_up -= 1
            self.changed = time.monotonic()
            self.cv.notify_all()
        box.done.wait()
        if box.error is not None:
            raise box.error
        return box.result

    def _thread_ended(self, handed_over: bool) -> None:
        with self.cv:
            if not handed_over:
                self.setting_up -= 1
            self.changed = time.monotonic()
            self.cv.notify_all()

    def _next_round(self) -> list[_Handover] | None:
        """The nets handed over once every thread has handed its net over or ended (or the rest have been
        setting up for SETUP_PATIENCE); None when no thread is left."""
        with self.cv:
            while True:
                if self.setting_up == 0 or (self.pending and time.monotonic() - self.changed > SETUP_PATIENCE):
                    boxes, self.pending = self.pending, []
                    if boxes:
                        return boxes
                    if self.setting_up == 0:
                        return None
                self.cv.wait(timeout=1.0)

    def train(self) -> None:
        """In the calling thread: train each round of handed-over nets together and hand each result back."""
        while True:
            boxes = self._next_round()
            if boxes is None:
                return

            def hand_back(i, value, boxes=boxes):
                if isinstance(value, BaseException):
                    boxes[i].error = value
                else:
                    boxes[i].result = value
                boxes[i].done.set()
            try:
                train_together([b.trainer for b in boxes], on_done=hand_back)
            except BaseException as e:  # KeyboardInterrupt: every waiting thread gets it, then it goes on up
                for b in boxes:
                    if not b.done.is_set():
                        b.error = e
                        b.done.set()
                raise


def train_runs(store, configs: list, data, device, retry_failed: bool = False, progress: bool = True,
               **train_kwargs) -> list:
    """Train (or find) ``configs`` together: ``store.get_or_train(config, ...)`` for each, in a thread of its own,
    its net trained in one loop with the others. Returns, in order, each run's RunRecord or the exception its
    get_or_train raised (RunFailed, TrainingDiverged, RunNotRecorded for a stopped run, ...). A config given twice
    is trained once. A KeyboardInterrupt in the loop goes on up (the threads' runs resume from their
    checkpoints)."""
    unique = list(dict.fromkeys(configs))
    group = Group(len(unique))
    results: dict = {}

    def work(cfg):
        _local.group, _local.handed_over = group, False
        try:
            results[cfg] = store.get_or_train(cfg, data=data, device=device, retry_failed=retry_failed,
                                              progress=progress, **train_kwargs)
        except BaseException as e:
            results[cfg] = e
        finally:
            group._thread_ended(handed_over=_local.handed_over)

    threads = [threading.Thread(target=work, args=(cfg,), daemon=True, name=f"run {cfg.arch} s{cfg.seed}")
               for cfg in unique]
    for t in threads:
        t.start()
    group.train()
    for t in threads:
        t.join()
    return [results[cfg] for cfg in configs]
