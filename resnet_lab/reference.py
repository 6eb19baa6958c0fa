"""Published numbers to hold our runs against (literature values, not our results).

Sources: He et al. 2015, Table 6 and Sec. 4.2 (CIFAR-10 test error, %); public
reproductions as summarised in ``shared/docs/paper-facts.md``.
"""
from __future__ import annotations

PAPER_TABLE6 = {  # arch: (test error %, params as printed)
    "resnet20": (8.75, "0.27M"), "resnet32": (7.51, "0.46M"), "resnet44": (7.17, "0.66M"),
    "resnet56": (6.97, "0.85M"), "resnet110": (6.43, "1.7M"), "resnet1202": (7.93, "19.4M"),
}
PAPER_RESNET110_MEAN = (6.61, 0.16)  # mean +- std over 5 runs

REPRODUCTIONS = {
    "akamaster/pytorch_resnet_cifar10": dict(
        note="200 epochs, lr drops at 100/150, no val split, official data",
        errors={"resnet20": 8.27, "resnet32": 7.37, "resnet44": 6.90, "resnet56": 6.61, "resnet110": 6.32}),
    "nabla0001/resnet": dict(
        note="the paper's schedule (64k it.), 5 seeds, mean +- std, official data",
        errors={"resnet20": (8.51, 0.22), "resnet56": (7.40, 0.27), "resnet110": (7.14, 0.20),
                "plain20": (9.78, 0.13), "plain56": (12.95, 0.22)}),
    "a-martyn/resnet": dict(
        note="official data",
        errors={"plain20": 9.5, "plain32": 9.92, "plain44": 11.35, "plain56": 12.76,
                "resnet20": 8.0, "resnet32": 7.51, "resnet44": 7.38, "resnet56": 7.33}),
}
