"""Every point and question of the user's study notes (../shared/seed/resnet-study-notes.zh.md) is taken up in
the book. COVERAGE maps a phrase of each note line to the chapter and a phrase of the text that answers it; the
tests fail when a note line has no entry (a new or unanswered point) or when the answering text is gone."""
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO.parent / "shared" / "seed" / "resnet-study-notes.zh.md"

# (phrase of a note line, chapter file, phrase of the book that takes the point up)
COVERAGE = [
    ("深层网络学习性能不如浅层", "01_degradation.ipynb", "stack more 3x3 layers onto a plain"),
    ("多出来的层理论上可以学成恒等映射", "02_residual_learning.ipynb", "since the extra layers could learn the identity"),
    ("学习的难易度可能不同", "06_trained_nets.ipynb", "but how hard it is to learn may differ"),
    ("或 H(x) - x 没有差别", "02_residual_learning.ipynb", "Both stacks can represent the identity exactly"),
    ("残差函数通常有更小的响应", "04_layer_responses.ipynb", "residual functions were found to have smaller responses"),
    ("对于一个两层的res block", "02_residual_learning.ipynb", "## Identity vs projection shortcuts"),
    ("其中sigma是RELU", "02_residual_learning.ipynb", "followed by a ReLU *after* the addition"),
    ("加法是elementwise", "02_residual_learning.ipynb", "The addition is element-wise on feature maps"),
    ("维度一致其实也可以用Ws", "02_residual_learning.ipynb", "维度一致其实也可以用 $W_s$ 但是没有这个必要"),
    ("只跳一层没什么用", "02_residual_learning.ipynb", 'So a one-layer "residual" block is a reparametrisation'),
    ("加法也适用于卷积层", "02_residual_learning.ipynb", "which is why it works for conv layers"),
    ("主要灵感来自于VGG", "02_residual_learning.ipynb", "mainly inspired by the philosophy of VGG nets"),
    ("卷积层基本为3x3卷积", "02_residual_learning.ipynb", "the conv layers are mostly 3x3"),
    ("feature map size相同的层", "02_residual_learning.ipynb", "layers with the same map size have the same number of filters"),
    ("filters numbers double", "02_residual_learning.ipynb", "Why does doubling the filters keep the cost per layer?"),
    ("没有用pool层降低feature size", "02_residual_learning.ipynb", "There is no pooling between stages"),
    ("VGG19(19.6亿FLOPs)的18%", "02_residual_learning.ipynb", "### plain-34 against VGG-19: FLOPs, not parameters"),
    ("残差版本的Plain网络", "07_variants.ipynb", "Where a residual connection changes dimensions there"),
    ("zero padding B) 1x1卷积投影变换", "07_variants.ipynb", "Where a residual connection changes dimensions there"),
    ("random scale aug", "02_residual_learning.ipynb", "shorter side sampled in [256, 480]"),
    ("224x224 crop", "02_residual_learning.ipynb", "224 crops, flips, per-pixel mean"),
    ("horizontal flip", "02_residual_learning.ipynb", "224 crops, flips, per-pixel mean"),
    ("per-pixel mean subtracted", "02_residual_learning.ipynb", "224 crops, flips, per-pixel mean"),
    ("stardard color aug", "02_residual_learning.ipynb", "colour augmentation"),
    ("每个卷积之后激活之前用BN", "02_residual_learning.ipynb", "BN after every conv"),
    ("初始化方法来源于论文[13]", "02_residual_learning.ipynb", "He init {cite}`he2015delving`"),
    ("SGD, minibatch: 256", "02_residual_learning.ipynb", "SGD with batch 256 and lr 0.1 divided by 10 on plateaus"),
    ("测试阶段用了标准的10-crop", "03_cifar_experiments.ipynb", 'What "fully-convolutional form" means.'),
    ("并不是vanishing gradient的原因", "01_degradation.ipynb", "## Is it vanishing gradients?"),
    ("收敛速度过慢", "01_degradation.ipynb", "it trained 3x longer and the gap stayed"),
    ("bottle neck结构其实就是用1x1卷积进行降维然后升维", "02_residual_learning.ipynb", "bottleneck"),
    ("那么其实参数会double", "02_residual_learning.ipynb", "the time complexity and model size are doubled"),
    ("难道是中间用了padding么", "02_residual_learning.ipynb", "Every 3x3 conv has padding 1"),
    ("确实是使用了padding=1", "02_residual_learning.ipynb", "The notes' own answer is right: padding = 1"),
    ("在bottle neck结构中,如果需要down sample", "02_residual_learning.ipynb", "v1.5"),
    ("cifar-10的模型结构和imagenet的结构不同", "03_cifar_experiments.ipynb", "The CIFAR-10 nets d"),
    ("不采用bottle neck结构", "02_residual_learning.ipynb", "### Why the CIFAR nets have no bottleneck"),
    ("residual block的ReLU是在add之后的", "02_residual_learning.ipynb", "as the notes stress"),
]


def flat(text: str) -> str:
    return re.sub(r"[\s>]+", " ", text)


def chapter_text(name: str) -> str:
    f = REPO / "book" / name
    if f.suffix == ".ipynb":
        return flat("\n".join("".join(c["source"]) for c in json.loads(f.read_text())["cells"]))
    return flat(f.read_text())


def note_points() -> list[str]:
    """The note lines that make a point or ask a question: every list item, and every other line with Chinese
    text that is not a heading."""
    if not NOTES.exists():
        pytest.skip(f"the study notes are not beside the repo ({NOTES})")
    return [line.strip() for line in NOTES.read_text(encoding="utf-8").splitlines()
            if (re.search(r"[\u4e00-\u9fff]", line) and not line.lstrip().startswith("#"))
            or re.match(r"\s*[-•·]\s*\S", line)]


def test_every_point_of_the_notes_has_an_answer_in_the_book():
    unanswered = [p for p in note_points() if not any(note in p for note, _, _ in COVERAGE)]
    assert not unanswered, "study-note lines that no COVERAGE entry takes up:\n" + "\n".join(unanswered)


def test_every_coverage_entry_quotes_the_notes():
    text = "\n".join(note_points())
    stale = [note for note, _, _ in COVERAGE if note not in text]
    assert not stale, f"COVERAGE phrases not found in the notes: {stale}"


@pytest.mark.parametrize("note,chapter,phrase", COVERAGE, ids=[c[0][:12] for c in COVERAGE])
def test_the_answering_text_is_in_its_chapter(note, chapter, phrase):
    assert flat(phrase) in chapter_text(chapter), f"{chapter} no longer says {phrase!r} (answers {note!r})"
