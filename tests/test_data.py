"""CIFAR-10 sources, the 45k/5k protocol and batched augmentation (Sec. 4.2)."""
import numpy as np
import pytest
import torch

from resnet_lab import data as D


def test_missing_dataset_error_names_both_ways(monkeypatch, tmp_path):
    monkeypatch.delenv("RESNET_LAB_CIFAR10", raising=False)
    with pytest.raises(D.DatasetNotFound) as e:
        D.load_cifar10()
    assert "RESNET_LAB_CIFAR10" in str(e.value) and "official" in str(e.value) and "ImageFolder" in str(e.value)
    with pytest.raises(D.DatasetNotFound, match="not found"):
        D.load_cifar10(tmp_path / "nope")


def _tiny_imagefolder(root, per_class=2):
    from torchvision.io import encode_jpeg
    for split in ("train", "test"):
        for k, cls in enumerate(D.CLASSES):
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                img = torch.full((3, 32, 32), 20 * k, dtype=torch.uint8)
                (root / split / cls / f"{i:04d}.jpg").write_bytes(encode_jpeg(img, quality=95).numpy().tobytes())
    return root


@pytest.fixture
def small_cifar(monkeypatch, tmp_path):
    """CIFAR-10 'expected sizes' shrunk to 2 train / 2 test images per class, so tiny folders can be complete."""
    monkeypatch.setitem(D.EXPECTED, "train", 20)
    monkeypatch.setitem(D.EXPECTED, "test", 20)
    monkeypatch.setenv("RESNET_LAB_CACHE", str(tmp_path / "cache"))


def test_imagefolder_source_decodes_with_labels_in_class_order(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    assert D.resolve_source(root) == ("jpeg", root.resolve())
    raw = D.load_raw(root)
    assert raw["source"] == "jpeg" and raw["train_x"].shape == (20, 3, 32, 32) and raw["train_x"].dtype == torch.uint8
    assert raw["train_y"].tolist() == [k for k in range(10) for _ in range(2)]
    assert abs(int(raw["train_x"][4].float().mean()) - 40) <= 2  # class 2 was painted 40
    assert list((tmp_path / "cache").glob("cifar10-jpeg-*.pt"))  # decoded once into a tensor cache


def test_official_source_through_torchvision(tmp_path, monkeypatch):
    """The official path converts torchvision's CIFAR10 arrays; exercised with a stand-in class offline."""
    calls = []

    class FakeCIFAR10:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            n = 10
            self.data = np.arange(n * 32 * 32 * 3, dtype=np.uint8).reshape(n, 32, 32, 3)
            self.targets = list(range(n))

    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.setenv("RESNET_LAB_CACHE", str(tmp_path))
    monkeypatch.setitem(D.EXPECTED, "train", 10)
    monkeypatch.setitem(D.EXPECTED, "test", 10)
    raw = D.load_raw("official")
    assert raw["source"] == "official" and raw["train_x"].shape == (10, 3, 32, 32)
    assert raw["train_x"][0, 0, 0, 1] == 3  # HWC -> CHW
    assert calls[0][2] is True  # nothing on disk yet: download


def test_official_download_failure_is_clear(tmp_path, monkeypatch):
    import torchvision.datasets

    def boom(*a, **k):
        raise RuntimeError("no network")
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", boom)
    monkeypatch.setenv("RESNET_LAB_CACHE", str(tmp_path))
    with pytest.raises(D.DatasetNotFound, match="cifar10-jpeg"):
        D.load_raw("official")


def test_split_sizes_and_mean(real_data):
    d = real_data
    assert (len(d.train_y), len(d.val_y), len(d.test_y)) == (45000, 5000, 10000)
    assert d.source in D.SOURCES and d.train_x.dtype == torch.uint8
    assert torch.allclose(d.mean, d.train_x.float().mean(0) / 255, atol=1e-5)
    assert d.mean.shape == (3, 32, 32)
    # the fixed seed gives the same split every time, and val is disjoint from train
    again = D.load_cifar10()
    assert torch.equal(again.val_x, d.val_x)
    assert torch.bincount(d.val_y, minlength=10).min() > 400


def test_second_load_comes_from_the_cache(real_data, monkeypatch):
    def no_decoding(*a, **k):
        raise AssertionError("decoded again although the cache holds the images")
    monkeypatch.setattr(D, "_decode_imagefolder", no_decoding)
    monkeypatch.setattr(D, "_decode_official", no_decoding)
    assert D.load_cifar10().fingerprint == real_data.fingerprint != ""


def test_normalize_subtracts_pixel_mean():
    x = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    mean = torch.full((3, 32, 32), 0.25)
    assert torch.allclose(D.normalize(x, mean), torch.full((2, 3, 32, 32), 0.75))


def test_augment_shapes_randomness_and_content():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32).repeat(64, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    a = D.augment(x, g)
    assert a.shape == x.shape
    b = D.augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)  # reproducible from the generator
    assert not torch.equal(a, D.augment(x, g))  # but random
    flipped = sum(torch.equal(a[i, :, 8:24, 8:24], x[i, :, 8:24, 8:24].flip(-1)) for i in range(len(x)))
    # every output is a shifted (and maybe mirrored) window of the zero-padded input
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(8):
        found = any(torch.equal(a[i], w) for dy in range(9) for dx in range(9)
                    for w in (padded[i, :, dy:dy + 32, dx:dx + 32], padded[i, :, dy:dy + 32, dx:dx + 32].flip(-1)))
        assert found
    assert (a == 0).any()  # zero padding shows up
    assert flipped >= 0
    centred_or_moved = [torch.equal(a[i], x[i]) for i in range(len(x))]
    assert not all(centred_or_moved)


# ---- a CIFAR-10 source must be the whole of CIFAR-10 (issue: run records that cannot go stale) ----------------

def test_partial_folder_is_refused_with_the_count(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LAB_CACHE", str(tmp_path / "cache"))
    root = _tiny_imagefolder(tmp_path / "copy", per_class=20)  # 200 training images, real expectations
    with pytest.raises(D.DatasetInvalid, match=r"train/airplane/ holds 20 JPEG images, CIFAR-10 has 5000"):
        D.load_raw(root)
    assert not list((tmp_path / "cache").glob("*.pt"))  # nothing cached


@pytest.mark.parametrize("split", ["train", "test"])
def test_missing_class_folder_is_named(tmp_path, small_cifar, split):
    import shutil
    root = _tiny_imagefolder(tmp_path / "copy")
    shutil.rmtree(root / split / "horse")
    with pytest.raises((D.DatasetInvalid, D.DatasetNotFound), match=f"{split}/horse"):
        D.load_raw(root)


def test_corrupt_jpeg_is_named(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    bad = root / "test" / "ship" / "0001.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(D.DatasetInvalid, match=r"test/ship/0001.jpg is not a readable JPEG"):
        D.load_raw(root)


def test_wrong_labels_are_refused():
    raw = {"train_x": torch.zeros(50000, 3, 32, 32, dtype=torch.uint8), "train_y": torch.zeros(50000, dtype=torch.int64),
           "test_x": torch.zeros(10000, 3, 32, 32, dtype=torch.uint8), "test_y": torch.arange(10000) % 10}
    with pytest.raises(D.DatasetInvalid, match="train labels per class"):
        D.validate(raw, "here")


def test_fingerprint_follows_content(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    a = D.load_raw(root)["fingerprint"]
    assert D.load_raw(root)["fingerprint"] == a  # from the cache, same identity
    from torchvision.io import encode_jpeg
    img = torch.full((3, 32, 32), 200, dtype=torch.uint8)
    (root / "train" / "cat" / "0000.jpg").write_bytes(encode_jpeg(img, quality=95).numpy().tobytes())
    import shutil
    shutil.rmtree(tmp_path / "cache")
    assert D.load_raw(root)["fingerprint"] != a


def test_bad_folder_trains_nothing(tmp_path, monkeypatch):
    """The CLI refuses a partial copy before anything trains: one line naming the problem, no record."""
    from resnet_lab.cli import main
    monkeypatch.setenv("RESNET_LAB_CACHE", str(tmp_path / "cache"))
    root = _tiny_imagefolder(tmp_path / "copy", per_class=20)
    store = tmp_path / "runs"
    rc = main(["train", "--arch", "resnet20", "--profile", "smoke", "--data", str(root), "--runs", str(store)])
    assert rc != 0
    assert not store.exists() or not [p for p in store.iterdir() if not p.name.startswith(".")]


# -- one-file packs (what travels to a GPU machine that cannot see ../shared) --------------------------------
def test_pack_decodes_to_the_folder_images_and_fingerprint(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    pack = D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    assert D.resolve_source(pack) == ("jpeg", pack.resolve())
    a, b = D.load_raw(root), D.load_raw(pack)
    for k in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(a[k], b[k]), k
    assert a["fingerprint"] == b["fingerprint"]
    assert len(list((tmp_path / "cache").glob("cifar10-jpeg-*.pt"))) == 2  # folder and pack cached apart


def test_pack_refuses_a_wrong_name_and_a_partial_folder(tmp_path, small_cifar):
    import shutil
    root = _tiny_imagefolder(tmp_path / "copy")
    with pytest.raises(ValueError, match=r"must end in \.jpegpack"):
        D.pack_imagefolder(root, tmp_path / "c.pt")
    shutil.rmtree(root / "train" / "dog")
    with pytest.raises(D.DatasetInvalid, match="train/dog"):
        D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    assert not (tmp_path / "c.jpegpack").exists()


def test_a_corrupt_image_in_a_pack_is_named(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    (root / "test" / "frog" / "0001.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    pack = D.pack_imagefolder(root, tmp_path / "c.jpegpack")
    with pytest.raises(D.DatasetInvalid, match=r"c\.jpegpack:test/frog/0001\.jpg is not a readable JPEG"):
        D.load_raw(pack)


def test_a_file_that_is_not_a_pack_is_refused(tmp_path, small_cifar):
    bad = tmp_path / "c.jpegpack"
    bad.write_bytes(b"junk")
    with pytest.raises(D.DatasetInvalid, match="cannot be read"):
        D.load_raw(bad)
    torch.save({"format": "something else"}, bad)
    with pytest.raises(D.DatasetInvalid, match="not a CIFAR-10 JPEG pack"):
        D.load_raw(bad)


def test_pack_data_cli(tmp_path, small_cifar, capsys):
    from resnet_lab.cli import main
    root = _tiny_imagefolder(tmp_path / "copy")
    assert main(["pack-data", str(root), str(tmp_path / "c.jpegpack")]) == 0
    assert "MiB" in capsys.readouterr().out and (tmp_path / "c.jpegpack").is_file()
    assert main(["pack-data", str(tmp_path / "nothing"), str(tmp_path / "d.jpegpack")]) != 0
    assert "nothing" in capsys.readouterr().err


def test_augment_from_precomputed_draws_is_the_same_augmentation():
    """The training loop draws the randomness first (to send it to the device in one copy): same images, and the
    generator ends in the same state, as when augment draws it itself."""
    x = torch.arange(4 * 3 * 32 * 32, dtype=torch.float32).reshape(4, 3, 32, 32).repeat(16, 1, 1, 1)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    draws = D.augment_draws(len(x), g2)
    assert draws.shape == (3, len(x)) and draws.dtype == torch.int64
    assert int(draws[:2].min()) >= 0 and int(draws[:2].max()) <= 8 and set(draws[2].tolist()) <= {0, 1}
    assert torch.equal(D.augment(x, g1), D.augment(x, draws=draws))
    assert torch.equal(g1.get_state(), g2.get_state())


# -- issue 30: the cache is keyed on what it was built from; data errors name the file ---------------------------
def _jpeg(value, mode="RGB"):
    import io
    from PIL import Image
    b = io.BytesIO()
    Image.new(mode, (32, 32), value).save(b, format="JPEG", quality=95)
    return b.getvalue()


def test_a_replaced_image_is_not_served_from_the_cache(tmp_path, small_cifar, capfd):
    """Case 2: same count, same name, even the old mtime put back: the cache is rebuilt, and stderr says so."""
    import os
    root = _tiny_imagefolder(tmp_path / "copy")
    a = D.load_raw(root)
    capfd.readouterr()
    assert D.load_raw(root)["fingerprint"] == a["fingerprint"] and "cache" not in capfd.readouterr().err  # cached
    f = root / "train" / "dog" / "0000.jpg"
    st = f.stat()
    f.write_bytes(_jpeg((200, 30, 30)))  # a cat in dog/
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    b = D.load_raw(root)
    err = capfd.readouterr().err
    assert b["fingerprint"] != a["fingerprint"]
    msg = [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("CIFAR-10 cache")]  # not the bars
    assert len(msg) == 1 and str(root) in msg[0] and "changed" in msg[0]
    assert len(list((tmp_path / "cache").glob("cifar10-jpeg-*.pt"))) == 1  # replaced, not one more
    assert D.load_raw(root)["fingerprint"] == b["fingerprint"] and "cache" not in capfd.readouterr().err


def test_a_cache_from_before_keys_is_rebuilt_with_a_message(tmp_path, small_cifar, capfd):
    root = _tiny_imagefolder(tmp_path / "copy")
    a = D.load_raw(root)
    cache, = (tmp_path / "cache").glob("cifar10-jpeg-*.pt")
    old = torch.load(cache, weights_only=True)
    del old["built_from"]
    torch.save(old, cache)
    capfd.readouterr()
    assert D.load_raw(root)["fingerprint"] == a["fingerprint"]
    assert "before caches recorded" in capfd.readouterr().err
    assert "built_from" in torch.load(cache, weights_only=True)


def test_an_emptied_image_is_named_not_served_from_the_cache(tmp_path, small_cifar):
    """Cases 2 and 16: a 0-byte JPEG (same count) names the file, not torch's C++ source."""
    root = _tiny_imagefolder(tmp_path / "copy")
    D.load_raw(root)
    (root / "test" / "cat" / "0001.jpg").write_bytes(b"")
    with pytest.raises(D.DatasetInvalid, match=r"test/cat/0001\.jpg is empty \(0 bytes\)") as e:
        D.load_raw(root)
    assert "__w" not in str(e.value) and "\n" not in str(e.value)


def test_a_folder_named_like_an_image_is_named(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    (root / "train" / "frog" / "0001.jpg").unlink()
    (root / "train" / "frog" / "0042.jpg").mkdir()
    with pytest.raises(D.DatasetInvalid, match=r"train/frog/0042\.jpg is a folder") as e:
        D.load_raw(root)
    assert "aten::" not in str(e.value)


def test_a_cmyk_jpeg_is_named_with_its_channels(tmp_path, small_cifar):
    root = _tiny_imagefolder(tmp_path / "copy")
    (root / "train" / "ship" / "0000.jpg").write_bytes(_jpeg((10, 20, 30, 40), "CMYK"))
    with pytest.raises(D.DatasetInvalid, match=r"train/ship/0000\.jpg has 4 colour channels \(CMYK\)"):
        D.load_raw(root)
    assert not list((tmp_path / "cache").glob("*.pt"))
