"""The training step of Sec. 3.4 / 4.2: a batch, forward, backward, one SGD update -- and nothing the host must
wait for, so that on CUDA the whole step can be captured once as a graph and replayed.

* The batch: the step reads its row of the window's draw table on the device (a device-side counter picks the
  row), gathers the uint8 images, subtracts the per-pixel mean, pads, crops and flips by gathering
  (:func:`resnet_lab.data.augment`).
* The update: "SGD with a mini-batch size of 128 ... weight decay of 0.0001 and a momentum of 0.9" --
  :class:`PaperSGD`, torch's SGD arithmetic (d_p = g + wd p; buf = 0.9 buf + d_p, buf = d_p at the first step;
  p -= lr buf) with the lr held in a device tensor, which the loop sets between steps.
* The logging sums: the window's loss and error are summed on the device and read by the loop once per
  logging window.
"""
from __future__ import annotations

import torch

from .. import train as T  # T.sgd_step: looked up at every step (tests count and interrupt steps through it)
from ..data import augment, normalize
from .data_stream import ROWS


class PaperSGD(torch.optim.SGD):
    """torch.optim.SGD (momentum, weight decay, no dampening or Nesterov) whose update reads the learning rate
    from a device tensor, ``lr_tensor``: no host value is baked into the step, so a captured step follows lr
    changes. Bit-identical to torch.optim.SGD's single-tensor update on the CPU (tests/test_engine.py: its last
    operation, ``p.add_(buf, alpha=-lr)``, and ``p.addcmul_(buf, lr, value=-1)`` give the same bits there); state
    and state_dict are torch.optim.SGD's, so checkpoints of either load into the other.

    ``lr_on_device=False``: the update is torch's foreach SGD to the operation (``p += -lr * buf`` with the lr a
    host number), bit-identical to torch.optim.SGD on every device by construction; a captured step then holds
    its lr, and :class:`GraphedStep` keeps one graph per lr value (a run has three or four)."""

    def __init__(self, params, lr: float, momentum: float, weight_decay: float, lr_on_device: bool = True):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        first = self.param_groups[0]["params"][0]
        self.lr_tensor = torch.full((), float(lr), dtype=torch.float32, device=first.device)
        self._lr = float(lr)
        self.lr_on_device = lr_on_device

    def set_lr(self, lr: float) -> None:
        """The lr of the next step (host side: the param groups, as a checkpoint keeps them; device side: the
        tensor the update reads, written only when it changes)."""
        lr = float(lr)
        for group in self.param_groups:
            group["lr"] = lr
        if lr != self._lr:
            self.lr_tensor.fill_(lr)
            self._lr = lr

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("PaperSGD takes no closure")
        for group in self.param_groups:
            if group.get("nesterov") or group.get("maximize") or group.get("dampening"):
                raise ValueError("PaperSGD is plain momentum SGD: no Nesterov, maximize or dampening")
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            wd, momentum = group["weight_decay"], group["momentum"]
            d_p = torch._foreach_add(grads, params, alpha=wd) if wd != 0 else grads  # g + wd * p
            if momentum != 0:
                bufs = [self.state[p].get("momentum_buffer") for p in params]
                if all(b is not None for b in bufs):
                    torch._foreach_mul_(bufs, momentum)  # buf = momentum * buf + d_p
                    torch._foreach_add_(bufs, d_p, alpha=1)
                else:  # the first step (never captured: the loop's first steps are eager)
                    for i, (p, d) in enumerate(zip(params, d_p)):
                        if bufs[i] is None:
                            bufs[i] = self.state[p]["momentum_buffer"] = d.detach().clone()
                        else:
                            bufs[i].mul_(momentum).add_(d, alpha=1)
                d_p = bufs
            if not self.lr_on_device:  # p -= lr * buf, the lr a host number (baked into a captured step)
                torch._foreach_add_(params, d_p, alpha=-self._lr)
                continue
            for p, d in zip(params, d_p):  # p -= lr * buf, the lr read on the device
                p.addcmul_(d, self.lr_tensor, value=-1)
        return None


class Step:
    """One training iteration of one net on its device, host-sync free (see the module's docstring).

    Static state, allocated once (a captured graph holds these addresses): the draw ``table`` of the current
    window and its ``counter``, the logging sums ``loss_sum`` and ``wrong_sum``; the model's parameters and
    buffers and the optimiser's lr tensor and momentum buffers are the model's and optimiser's own.
    """

    def __init__(self, forward: torch.nn.Module, opt: PaperSGD, train_x: torch.Tensor, train_y: torch.Tensor,
                 mean: torch.Tensor, batch_size: int, rows: int, device: torch.device, precision: str, fmt):
        self.forward, self.opt = forward, opt
        self.train_x, self.train_y, self.mean = train_x, train_y, mean
        self.device, self.precision, self.fmt = device, precision, fmt
        self.table = torch.zeros((rows, ROWS, batch_size), dtype=torch.int64, device=device)
        self.counter = torch.zeros(1, dtype=torch.int64, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.wrong_sum = torch.zeros((), device=device)

    def load_window(self, draws: torch.Tensor) -> None:
        """Host side, between steps: the next window's draws (``DataStream.window``) into the table (on CUDA from
        pinned memory, without waiting), and the counter back to its first row."""
        if len(draws) > len(self.table):
            raise ValueError(f"a window of {len(draws)} iterations does not fit the table's {len(self.table)} rows")
        if self.device.type == "cuda":
            draws = draws.pin_memory()
        self.table[:len(draws)].copy_(draws, non_blocking=True)
        self.counter.zero_()

    def static_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor the step reads or writes that must keep its storage from one step to the next."""
        out = dict(table=self.table, counter=self.counter, loss_sum=self.loss_sum, wrong_sum=self.wrong_sum,
                   lr=self.opt.lr_tensor, train_x=self.train_x, train_y=self.train_y, mean=self.mean)
        for i, p in enumerate(self.opt.param_groups[0]["params"]):
            out[f"param{i}"] = p
            if "momentum_buffer" in self.opt.state.get(p, {}):
                out[f"momentum{i}"] = self.opt.state[p]["momentum_buffer"]
        for name, b in self.forward.named_buffers():
            out[f"buffer:{name}"] = b
        return out

    def __call__(self) -> torch.Tensor:
        """One iteration: the batch of the table's current row, forward, backward, update, the sums. Returns the
        batch's loss (a device tensor; never read here)."""
        row = self.table.index_select(0, self.counter)[0]  # [4, batch], picked on the device
        self.counter += 1
        idx = row[0]
        xb = augment(normalize(self.train_x[idx], self.mean), draws=row[1:]).contiguous(memory_format=self.fmt)
        yb = self.train_y[idx]
        loss, out = T.sgd_step(self.forward, self.opt, xb, yb, self.device, self.precision)
        self.loss_sum += loss.detach()
        self.wrong_sum += (out.argmax(1) != yb).sum()
        return loss


class GraphedStep:
    """CUDA only: ``step`` run eagerly for its first ``warmup`` calls (real training steps, on the net's own
    stream, which is a side stream as capture wants), then captured once as a CUDA graph on that stream and
    replayed at every later call. Restore checkpoints before the first call: the graph holds addresses."""

    def __init__(self, step: Step, stream, warmup: int = 3):
        if step.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device; this step runs on {step.device}")
        self.step, self.stream, self.warmup_left = step, stream, warmup
        self.graphs: dict = {}  # one graph; with the lr on the host, one per lr value
        self.eager_steps = 0

    def _key(self):
        return None if self.step.opt.lr_on_device else self.step.opt._lr

    def capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
            loss = self.step()
        self.graphs[self._key()] = (graph, loss)

    def __call__(self) -> torch.Tensor:
        if self.warmup_left > 0:
            self.warmup_left -= 1
            self.eager_steps += 1
            return self.step()
        if self._key() not in self.graphs:
            self.capture()  # records the step; the replay below runs it
        graph, loss = self.graphs[self._key()]
        graph.replay()
        return loss
