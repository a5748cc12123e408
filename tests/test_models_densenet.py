"""DenseNet STCM: exact torchvision densenet161 state_dict keys/shapes (generated here from the
published architecture, not from the module), and loading of local ImageNet checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from mans.errors import ConfigError, FormatError
from mans.models import count_flops, count_parameters
from mans.models.densenet import DenseNet


def torchvision_keys(num_classes=1000, growth=48, blocks=(6, 12, 36, 24), init=96, bn_size=4,
                     in_channels=3, buffers=True) -> dict[str, tuple]:
    """``key -> shape`` of torchvision's DenseNet state_dict, written from its architecture:
    features.{conv0,norm0}, denseblockB.denselayerL.{norm1,conv1,norm2,conv2},
    transitionB.{norm,conv}, features.norm5, classifier."""
    keys: dict[str, tuple] = {}

    def bn(prefix, c):
        for name in ("weight", "bias") + (("running_mean", "running_var") if buffers else ()):
            keys[f"{prefix}.{name}"] = (c,)
        if buffers:
            keys[f"{prefix}.num_batches_tracked"] = ()

    keys["features.conv0.weight"] = (init, in_channels, 7, 7)
    bn("features.norm0", init)
    c = init
    for b, layers in enumerate(blocks, start=1):
        for i in range(1, layers + 1):
            p = f"features.denseblock{b}.denselayer{i}"
            bn(f"{p}.norm1", c)
            keys[f"{p}.conv1.weight"] = (bn_size * growth, c, 1, 1)
            bn(f"{p}.norm2", bn_size * growth)
            keys[f"{p}.conv2.weight"] = (growth, bn_size * growth, 3, 3)
            c += growth
        if b < len(blocks):
            bn(f"features.transition{b}.norm", c)
            keys[f"features.transition{b}.conv.weight"] = (c // 2, c, 1, 1)
            c //= 2
    bn("features.norm5", c)
    keys["classifier.weight"] = (num_classes, c)
    keys["classifier.bias"] = (num_classes,)
    return keys


def _random_state(keys: dict[str, tuple], seed=0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.tensor(7, dtype=torch.long) if k.endswith("num_batches_tracked")
                else torch.randn(s, generator=g)) for k, s in keys.items()}


def _old_style(state: dict) -> dict:
    """torchvision's pre-0.3 checkpoint names: denselayer1.norm1 -> denselayer1.norm.1, and no
    num_batches_tracked buffers (what the published densenet161-8d451a50.pth contains)."""
    out = {}
    for k, v in state.items():
        if k.endswith("num_batches_tracked"):
            continue
        for part in ("norm1", "norm2", "conv1", "conv2"):
            k = k.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.") if ".denselayer" in k else k
        out[k] = v
    return out


def test_expected_architecture_totals():
    keys = torchvision_keys(buffers=False)
    assert keys["classifier.weight"] == (1000, 2208)
    # torchvision's published parameter count of densenet161
    assert sum(math.prod(s) for s in keys.values()) == 28_681_000


@pytest.fixture(scope="module")
def densenet161_1000():
    return DenseNet(1000)


def test_state_dict_keys_and_shapes_match_torchvision_exactly(densenet161_1000):
    expected = torchvision_keys()
    own = {k: tuple(v.shape) for k, v in densenet161_1000.state_dict().items()}
    assert own == expected
    assert count_parameters(densenet161_1000) == 28_681_000
    densenet161_1000.load_state_dict(_random_state(expected), strict=True)


def test_load_pretrained_old_style_pth_skips_other_classifier(tmp_path):
    state = _random_state(torchvision_keys(num_classes=1000))
    path = tmp_path / "densenet161-imagenet.pth"
    torch.save(_old_style(state), path)
    net = DenseNet(60)
    head_before = net.classifier.weight.detach().clone()
    report = net.load_pretrained(path)
    assert report["skipped"] == ["classifier.bias", "classifier.weight"]
    own = net.state_dict()
    for k, v in state.items():
        if k.startswith("classifier") or k.endswith("num_batches_tracked"):
            continue
        assert torch.equal(own[k], v), k
    assert torch.equal(net.classifier.weight, head_before)
    assert report["loaded"] == len(_old_style(state)) - 2


def _small_keys(num_classes):
    return torchvision_keys(num_classes, growth=4, blocks=(2, 3), init=8, bn_size=2)


def _small_net(num_classes):
    return DenseNet(num_classes, growth_rate=4, block_config=(2, 3), num_init_features=8, bn_size=2)


def test_load_pretrained_safetensors_same_classes_loads_classifier(tmp_path):
    from safetensors.torch import save_file

    state = _random_state(_small_keys(10), seed=1)
    path = tmp_path / "w.safetensors"
    save_file({k: v for k, v in state.items()}, str(path))
    net = _small_net(10)
    report = net.load_pretrained(path)
    assert report["skipped"] == []
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_load_pretrained_unwraps_state_dict_and_module_prefix(tmp_path):
    state = _random_state(_small_keys(10), seed=2)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    net = _small_net(10)
    net.load_pretrained(path)
    assert torch.equal(net.features.conv0.weight, state["features.conv0.weight"])


def test_load_pretrained_errors(tmp_path):
    net = _small_net(10)
    with pytest.raises(ConfigError, match="does not exist"):
        net.load_pretrained(tmp_path / "missing.pth")
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="garbage.pth"):
        net.load_pretrained(bad)
    wrong = _random_state(_small_keys(10))
    wrong["features.extra.weight"] = torch.zeros(1)
    del wrong["features.norm5.weight"]
    wrong["features.conv0.weight"] = torch.zeros(8, 3, 3, 3)
    p = tmp_path / "wrong.pth"
    torch.save(wrong, p)
    with pytest.raises(FormatError) as e:
        net.load_pretrained(p)
    msg = str(e.value)
    assert "features.extra.weight" in msg and "features.norm5.weight" in msg
    assert "features.conv0.weight" in msg


def test_flops_match_torchvision(densenet161_1000):
    """One forward pass at 224 x 224 (output shapes are checked in test_models_mans.py)."""
    net = densenet161_1000
    # torchvision documents 7.73 GMACs for densenet161 at 224 x 224 = 15.46 GFLOPs
    flops = count_flops(net, (3, 224, 224))["total"]
    assert abs(flops / 1e9 - 15.46) < 0.01
