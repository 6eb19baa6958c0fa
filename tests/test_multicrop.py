"""Sec. 3.4 test-time protocols: the fully-convolutional form, the 10 crops, and the per-method errors."""
import pytest
import torch
from torch import nn

from resnet_lab.analysis import multicrop as mc
from resnet_lab.data import normalize
from resnet_lab.models import build, cifar_net
from conftest import patch_book


def _trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN statistics and affine parameters, so eval mode is not the identity map (as after training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.2 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
        model.fc.bias.copy_(torch.randn(model.fc.out_features, generator=g))
    return model.eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 3, 32, 32, generator=g)


@pytest.mark.parametrize("arch,variant", [("resnet20", "basic"), ("plain20", "basic"), ("resnet20", "preact")])
def test_fully_convolutional_is_the_same_function(arch, variant, batch):
    model = _trained_like(build(arch, variant=variant))
    fc = mc.fully_convolutional(model).eval()
    with torch.no_grad():
        assert torch.allclose(fc(batch), model(batch), atol=1e-5)
        # at any input size: global average pooling and a linear layer commute
        big = mc.resize(batch, 48)
        assert torch.allclose(fc(big), model(big), atol=1e-5)
    assert isinstance(fc.classifier, nn.Conv2d) and fc.classifier.kernel_size == (1, 1)
    assert model.fc.weight.shape == (10, fc.classifier.in_channels)  # the original is left as it was


def test_score_map_size_and_average(batch):
    model = _trained_like(cifar_net(14))
    for size, side in ((None, 8), (48, 12), (64, 16)):  # two stride-2 stages: side = input / 4
        m = mc.score_map(model, batch, size)
        assert m.shape == (6, 10, side, side)
        x = batch if size is None else mc.resize(batch, size)
        with torch.no_grad():
            assert torch.allclose(m.mean((2, 3)), model(x), atol=1e-5)
    # the map is not constant over positions (else "fully convolutional" would say nothing)
    assert mc.score_map(model, batch).std((2, 3)).min() > 0


def test_fully_convolutional_rejects_other_nets():
    with pytest.raises(ValueError, match="CIFAR net"):
        mc.fully_convolutional(nn.Linear(3, 10))


def test_ten_crop_views(batch):
    views = mc.ten_crop(batch)
    assert views.shape == (10, 6, 3, 32, 32)
    assert torch.equal(views[0], batch)  # centre crop of the 4-padded 40x40 canvas is the image itself
    for k in range(5):
        assert torch.equal(views[5 + k], views[k].flip(-1))  # the last five are the flips of the first five
        assert not torch.equal(views[5 + k], views[k])
    # corners: top-left starts 4 pixels outside the image (zero padding), bottom-right 4 pixels inside
    assert torch.equal(views[1][..., 4:, 4:], batch[..., :28, :28]) and (views[1][..., :4, :] == 0).all()
    assert torch.equal(views[2][..., 4:, :28], batch[..., :28, 4:]) and (views[2][..., :, 28:] == 0).all()
    assert torch.equal(views[3][..., :28, 4:], batch[..., 4:, :28]) and (views[3][..., 28:, :] == 0).all()
    assert torch.equal(views[4][..., :28, :28], batch[..., 4:, 4:]) and (views[4][..., :, 28:] == 0).all()
    assert not any(torch.equal(views[i], views[j]) for i in range(10) for j in range(i))  # ten different views


class _Blind(nn.Module):
    """Ignores its input: the same class scores at every position of every image, at any size."""

    def __init__(self):
        super().__init__()
        self.scores = nn.Parameter(torch.tensor([0.0, 0.0, 3.0] + [0.0] * 7))

    def score_map(self, x):
        return self.scores[None, :, None, None].expand(len(x), -1, x.shape[-2] // 4, x.shape[-1] // 4)

    def forward(self, x):
        return self.score_map(x).mean((2, 3))


def _uint8_images(n, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def test_blind_model_has_one_error_for_every_method():
    x = _uint8_images(37)  # not a multiple of the batch size
    y = torch.tensor([2] * 11 + [5] * 26)  # class 2 (the blind model's answer) for 11 of 37
    r = mc.evaluate(_Blind(), x, y, torch.zeros(3, 32, 32), batch_size=8)
    assert set(r["errors"]) == set(mc.METHODS)
    for table in (r["errors"], r["errors_logit_average"], r["scale_errors"]):
        assert all(e == pytest.approx(26 / 37) for e in table.values()), table
    assert r["n_images"] == 37 and all(v == 0 for v in r["changed"].values())
    assert r["views"] == {"single": 1, "flip": 2, "ten_crop": 10, "multiscale": 4, "multiscale_flip": 8}


def test_evaluate_single_view_matches_the_net_and_protocols_differ():
    model = _trained_like(cifar_net(8), seed=3)
    x, mean = _uint8_images(40, seed=4), torch.full((3, 32, 32), 0.5)
    with torch.no_grad():  # centre the logits on these images, so the answer depends on the image
        model.fc.bias.sub_(model(normalize(x, mean)).mean(0))
        model.fc.weight.mul_(10)
        model.fc.bias.mul_(10)
        pred = model(normalize(x, mean)).argmax(1)
    assert len(pred.unique()) > 2
    y = pred.clone()
    y[:15] = (y[:15] + 1) % 10  # 15 of 40 wrong for the single view, by construction
    r = mc.evaluate(model.train(), x, y, mean, batch_size=16)  # BN must be put in eval mode by evaluate
    assert r["errors"]["single"] == pytest.approx(15 / 40)
    assert r["scale_errors"]["32"] == pytest.approx(15 / 40)  # the fully-convolutional net at 32x32 is the net
    # the other protocols see other pixels, so some predictions move
    assert r["changed"]["ten_crop"] > 0 and r["changed"]["multiscale"] > 0
    for m in mc.METHODS:
        assert r["fixed"][m] - r["broken"][m] == round((r["errors"]["single"] - r["errors"][m]) * 40)


def test_evaluate_does_not_touch_the_model():
    model = _trained_like(cifar_net(8)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mc.evaluate(model, _uint8_images(8), torch.zeros(8, dtype=torch.long), torch.zeros(3, 32, 32))
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_mcnemar_p():
    from resnet_lab.book.testing import mcnemar_p
    assert mcnemar_p(5, 5) == 1.0 and mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(10, 0) == pytest.approx(2 / 1024) and mcnemar_p(0, 10) == mcnemar_p(10, 0)
    assert mcnemar_p(391, 282) < 1e-3 < mcnemar_p(30, 25)


def test_report_judges_each_net_against_the_seed_spread(monkeypatch):
    import resnet_lab.book
    from resnet_lab.book.testing import _verdicts
    patch_book(monkeypatch, "spread_seeds", lambda metric="final_test_error": 2)
    assert _verdicts({"a": -0.011, "b": -0.013}, 0.012) == (
        "a: within the depth-20 seed range (1.20 points, 2 seeds); one seed per net: described, not judged; "
        "b: larger than the depth-20 seed range (1.20 points, 2 seeds); one seed per net: described, not judged.")
    assert _verdicts({"a": 0.2, "b": -0.3}, 0.012).startswith("For every net the change is larger than")
    assert "not judged" in _verdicts({"a": 0.0}, None)


def _result(single, flip, n=10000):
    errors = {m: single for m in mc.METHODS}
    errors["flip"] = flip
    return dict(errors=errors, errors_logit_average=dict(errors), n_images=n, scales=[32, 64],
                scale_errors={"32": single, "64": 0.5}, fixed={m: 10 for m in mc.METHODS},
                broken={m: 5 for m in mc.METHODS})


def test_a_gain_is_judged_against_how_much_it_moves_from_seed_to_seed(monkeypatch):
    from resnet_lab.book import testing as T
    monkeypatch.setattr(T, "seed_spread", lambda metric="final_test_error": 0.012)
    gains = T.seed_gains({"resnet20 s0": _result(0.17, 0.161), "resnet20 s1": _result(0.16, 0.149),
                          "resnet20 s2": _result(0.18, 0.171), "plain20 s0": _result(0.2, 0.19)})
    assert gains["flip"]["resnet20"] == pytest.approx([-0.009, -0.011, -0.009])
    assert T.gain_range(gains["flip"]) == (pytest.approx(0.002), 3, "resnet20")  # plain20's one seed: no range
    assert T.gain_range({"resnet20": [-0.009, -0.011]}) is None  # two seeds: a range is one noisy difference
    rep = T.multicrop_report({"resnet20": _result(0.17, 0.161), "plain20": _result(0.2, 0.2)}, gains=gains)
    flip = next(l for l in rep.splitlines() if l.startswith("- **+ flip"))
    # a 0.9-point gain is within the error's 1.2-point seed spread, but far outside the 0.2-point range of the gain
    assert "Across seeds: resnet20 -0.9 / -1.1 / -0.9" in flip
    assert ("resnet20: larger than the gain's seed range (0.20 points over 3 seeds of resnet20); one seed: described, "
            "not judged") in flip
    assert "plain20: within the gain's seed range" in flip
    assert "within the depth-20 seed range" not in flip and "finding" not in rep
    without = T.multicrop_report({"resnet20": _result(0.17, 0.161)}, gains={})
    assert "within the depth-20 seed range (1.20 points" in without  # no seeds cached: the error's spread, as before


def test_the_multicrop_summary_is_computed_from_the_results():
    from resnet_lab.book import testing as T
    res = {"resnet20": _result(0.17, 0.161), "plain20": _result(0.2, 0.19)}
    for r, ms in zip(res.values(), (0.33, 0.36)):
        r["errors"].update({m: ms for m in mc.METHODS if m.startswith("multiscale")})
        r["errors"]["ten_crop"] = r["errors"]["single"] - 0.012
    gains = {"flip": {"resnet20": [-0.009, -0.011, -0.009]}, "ten_crop": {"resnet20": [-0.012, -0.01, -0.013]}}
    s = T.multicrop_summary(res, gains=gains)
    assert s.startswith("Flips and crops help a little: + flip (2 views) and 10-crop (10 views) lower every net's "
                        "test error, by 0.9 to 1.2 points; so does every seed of ResNet-20 evaluated (6 gains, -1.3 "
                        "to -0.9).")
    assert "raise the error by 16.0 to 16.0 points" in s and "they score 50-50% error" in s
    gains["flip"]["resnet20"][0] = 0.004  # one seed that flips make worse: no "every seed"
    assert "so does every seed" not in T.multicrop_summary(res, gains=gains)
    assert T.multicrop_summary({}) == ""


def test_the_appendix_lists_every_record_with_its_provenance(tmp_path, monkeypatch):
    from types import SimpleNamespace
    from resnet_lab.book import appendix as A
    cfg = lambda arch, seed, variant="basic", shortcut=None: SimpleNamespace(  # noqa: E731
        arch=arch, seed=seed, variant=variant, shortcut=shortcut, profile="cpu", data_source="jpeg")
    recs = [SimpleNamespace(config=cfg("resnet32", 0, shortcut="B"), failed=False,
                            provenance={"device": "cuda (NVIDIA H200)", "commit": "abc-dirty", "wall_seconds": 600,
                                        "started": "2026-12-01T10:00:00", "torch": "2.14.1",
                                        "data": "CIFAR-10 JPEG q75 copy (45000 train)"}),
            SimpleNamespace(config=cfg("plain20", 1), failed=True, provenance={"device": "cpu (x86_64, 1 threads)"})]
    monkeypatch.setattr(A, "RunStore", lambda: SimpleNamespace(records=lambda: recs))
    t = A.provenance_table()
    assert list(t.index) == ["plain-20", "ResNet-32 (option B)"]
    assert t.loc["ResNet-32 (option B)", "wall time"] == "10 min" and t.loc["plain-20", "status"] == "failed"
    assert t.loc["ResNet-32 (option B)", "data"] == "CIFAR-10 JPEG q75 copy"
    assert A.provenance_summary(t).startswith("2 runs are recorded, on cpu, cuda; 1 of them were started")


def test_a_cached_multicrop_result_is_read_without_loading_the_data(monkeypatch):
    """Chapter 3 reads cached results: the test set is loaded only when a result has to be computed."""
    from types import SimpleNamespace

    from resnet_lab.book import testing
    from resnet_lab.train import RunConfig

    def no_data():
        raise AssertionError("the data were loaded for a cached result")
    monkeypatch.setattr(testing, "data", no_data)
    stored = {"errors": {"single": 0.2}}
    rec = SimpleNamespace(config=RunConfig("resnet20", profile="cpu"), cached=lambda name, compute: stored)
    assert testing.multicrop(rec) is stored
    computed = SimpleNamespace(config=rec.config, cached=lambda name, compute: compute())
    with pytest.raises(AssertionError, match="data were loaded"):  # not cached: computing it loads them
        testing.multicrop(computed)
