"""The training engine of Sec. 4.2 in its parts, each tested alone:

* :mod:`~resnet_lab.engine.data_stream` -- which images each iteration trains on and how each is augmented:
  tables of indices and crop/flip draws from the run's CPU generator (:class:`DataStream`);
* :mod:`~resnet_lab.engine.schedule` -- the lr of each iteration, the ResNet-110 warm-up included
  (:class:`Schedule`);
* :mod:`~resnet_lab.engine.step` -- one SGD step (momentum 0.9, weight decay 1e-4) with no host sync, the lr in a
  device tensor (:class:`Step`, :class:`PaperSGD`), capturable as a CUDA graph (:class:`GraphedStep`);
* :mod:`~resnet_lab.engine.loop` -- logging, evaluation, checkpoints, the warm-up decision, around the step, for
  one net (:class:`Trainer`) or several in turn (:func:`train_together`);
* :mod:`~resnet_lab.engine.group` -- several runs of the run store trained together (:func:`train_runs`).

:func:`resnet_lab.train.train` is the engine's front; its runs are bit-identical to those of the engine before
these parts existed (tests/test_engine_parity.py).
"""
from .data_stream import DataStream, DeviceData
from .group import engine_options, train_runs, use_engine
from .loop import Trainer, train_together
from .schedule import Schedule
from .step import GraphedStep, PaperSGD, Step

__all__ = ["DataStream", "DeviceData", "Schedule", "PaperSGD", "Step", "GraphedStep", "Trainer", "train_together",
           "train_runs", "engine_options", "use_engine"]
