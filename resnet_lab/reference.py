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

# ---- ImageNet (Sec. 3-4.1): QUOTED from He et al. 2015; this project trains no ImageNet net. ----

# Table 1, last row: FLOPs (multiply-adds) of one 224x224 forward pass; and VGG-19's, quoted in Sec. 3.3
# ("our 34-layer baseline has 3.6 billion FLOPs (multiply-adds), which is only 18% of VGG-19 (19.6 billion FLOPs)").
PAPER_TABLE1_FLOPS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}
PAPER_VGG19_FLOPS = 19.6e9
PAPER_PLAIN34_VGG19_RATIO = 0.18

# Table 2: top-1 error (%, 10-crop testing) on the ImageNet validation set; ResNets use option A.
PAPER_TABLE2 = {18: {"plain": 27.94, "ResNet": 27.88}, 34: {"plain": 28.54, "ResNet": 25.03}}

# Table 3: (top-1, top-5) error (%, 10-crop testing) on the ImageNet validation set.
PAPER_TABLE3 = {
    "plain-34": (28.54, 10.02),
    "ResNet-34 A": (25.03, 7.76),
    "ResNet-34 B": (24.52, 7.46),
    "ResNet-34 C": (24.19, 7.40),
    "ResNet-50": (22.85, 6.71),
    "ResNet-101": (21.75, 6.05),
    "ResNet-152": (21.43, 5.71),
}

# Fig. 4 (training on ImageNet; thin curves training error, bold centre-crop validation error) carries no
# numbers of its own; what Sec. 4.1 reads off it, as the paper states it:
PAPER_FIG4_CLAIMS = (
    "plain nets (left): the 34-layer plain net has higher training error than the 18-layer plain net throughout "
    "training, although the 18-layer net's solution space is a subspace of the 34-layer one's",
    "ResNets (right): the 34-layer ResNet has considerably lower training error than the 18-layer ResNet and "
    "generalises to the validation data",
    "at 18 layers plain and residual nets end comparably accurate (Table 2), but the ResNet converges faster "
    "in the early stage",
)
