"""MANs network: config round trip and validation, registry, both variants' shapes, ablations,
attention output, parameter counts, and that the whole network can learn."""

from __future__ import annotations

import json

import pytest
import torch

from mans.errors import ConfigError
from mans.models import (
    MANs,
    MANsConfig,
    build_model,
    count_parameters,
    list_models,
    mans_densenet161,
    mans_resnet,
    model_config,
    model_from_config,
)


def test_registry_names_and_defaults():
    assert list_models() == ["mans_cooccurrence", "mans_densenet161", "mans_resnet"]
    r, d = model_config("mans_resnet"), model_config("mans_densenet161")
    c = model_config("mans_cooccurrence")
    assert (r.variant, r.size, r.hidden, r.gru_dropout) == ("resnet", 50, 64, 0.5)
    assert (d.variant, d.size, d.hidden, d.gru_dropout) == ("densenet161", 224, 128, 0.0)
    assert (c.variant, c.size, c.hidden, c.input) == ("cooccurrence", 50, 64, "sequence")
    assert (r.input, d.input) == ("image", "image")
    with pytest.raises(ConfigError, match="unknown model 'mans_vgg'"):
        build_model("mans_vgg")


def test_config_round_trip_is_json_safe():
    cfg = MANsConfig(num_classes=7, resnet_stages=[1, 2, 1], attention=False)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["resnet_stages"] == [1, 2, 1]
    again = MANsConfig.from_dict(d)
    assert again == cfg and again.resnet_stages == (1, 2, 1)


@pytest.mark.parametrize("key,value,match", [
    ("variant", "vgg", "model.variant"),
    ("num_classes", 0, "model.num_classes"),
    ("size", 2.5, "model.size"),
    ("gru_dropout", 1.5, "model.gru_dropout"),
    ("use_tarm", "yes", "model.use_tarm"),
    ("resnet_stages", [2, -1], "model.resnet_stages"),
    ("pretrained", "x.pth", "model.pretrained"),  # only for densenet161
])
def test_config_validation_names_the_key(key, value, match):
    with pytest.raises(ConfigError, match=match):
        MANsConfig.from_dict({key: value})


def test_unknown_config_key_is_config_error():
    with pytest.raises(ConfigError, match="hiden"):
        MANsConfig.from_dict({"hiden": 3})
    with pytest.raises(ConfigError, match="hiden"):
        mans_resnet(hiden=3)


def test_resnet_variant_shapes_and_attention():
    model = mans_resnet(num_classes=11).eval()
    assert isinstance(model, MANs) and model.config.num_classes == 11
    x = torch.randn(3, 3, 50, 50)
    with torch.no_grad():
        logits = model(x)
        logits2, att = model(x, return_attention=True)
    assert logits.shape == (3, 11) and att.shape == (3, 3, 50)
    torch.testing.assert_close(logits, logits2)
    assert ((att > 0) & (att < 1)).all()


def test_densenet_variant_shapes():
    model = mans_densenet161(num_classes=5).eval()
    with torch.no_grad():
        logits, att = model(torch.randn(1, 3, 224, 224), return_attention=True)
    assert logits.shape == (1, 5) and att.shape == (1, 3, 224)
    T = D = 224
    H, R, C = 128, 14, 3  # R = int(224 / 16)
    gru = 2 * (3 * H * H + 3 * H * H + 3 * H + 3 * H)
    tarm = C * ((D * H + H) + gru + (T * R + R) + (R * T + T) + (H * D + D))
    densenet161_imagenet = 28_681_000  # torchvision's published count, 1000 classes
    stcm = densenet161_imagenet - (2208 * 1000 + 1000) + (2208 * 5 + 5)
    assert count_parameters(model.tarm) == tarm
    assert count_parameters(model.stcm) == stcm


def test_stcm_only_sees_input_unchanged():
    model = mans_resnet(num_classes=4, use_tarm=False).eval()
    assert model.tarm is None
    seen = []
    model.stcm.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.randn(2, 3, 50, 50)
    logits, att = model(x, return_attention=True)
    assert att is None and logits.shape == (2, 4)
    assert seen[0] is x


def test_stcm_sees_tarm_output():
    model = mans_resnet(num_classes=4).eval()
    seen = []
    model.stcm.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.randn(2, 3, 50, 50)
    with torch.no_grad():
        model(x)
        y, _ = model.tarm(x)
    torch.testing.assert_close(seen[0], y)
    assert not torch.allclose(y, x)


def test_ablation_switches_reach_the_tarm():
    m = mans_resnet(attention=False, residual=False, gru_dropout=0.1, gru_recurrent_dropout=0.2)
    t = m.tarm
    assert (t.use_attention, t.residual, t.dropout, t.recurrent_dropout) == (False, False, 0.1, 0.2)
    _, att = m.eval()(torch.randn(1, 3, 50, 50), return_attention=True)
    assert torch.equal(att, torch.ones(1, 3, 50))


def test_model_from_config_rebuilds_the_same_network():
    a = mans_resnet(num_classes=6, resnet_stages=[1, 1], resnet_width=16).eval()
    b = model_from_config(json.loads(json.dumps(a.config.to_dict()))).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 50, 50)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize("name", ["mans_resnet", "mans_densenet161"])
def test_the_model_keeps_its_cnn_channels_last(name):
    """The model, not each caller, puts its convolutions in NHWC; a loaded state dict keeps it,
    and the layout changes rounding only, not the function."""
    small = {"resnet_stages": [1], "resnet_width": 8} if name == "mans_resnet" else {}
    a = build_model(name, num_classes=4, **small).eval()
    convs = [m.weight for m in a.stcm.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not all(w.is_contiguous() for w in convs)  # (a 1x1 kernel is both)
    b = model_from_config(a.config.to_dict()).eval()
    b.load_state_dict({k: v.contiguous() for k, v in a.state_dict().items()})
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in b.stcm.modules() if isinstance(m, torch.nn.Conv2d))
    x = torch.randn(1, 3, a.config.size, a.config.size)
    with torch.no_grad():
        ref = a(x)
        a.stcm.to(memory_format=torch.contiguous_format)
        torch.testing.assert_close(a(x), ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(b(x), ref, rtol=0, atol=0)


def test_wrong_input_size_is_config_error():
    with pytest.raises(ConfigError, match="model.size"):
        mans_resnet()(torch.randn(1, 3, 224, 224))


def test_pretrained_path_is_loaded_at_build(tmp_path):
    from mans.models.densenet import DenseNet

    with pytest.raises(ConfigError, match="does not exist"):
        mans_densenet161(pretrained=str(tmp_path / "none.pth"))
    imagenet = DenseNet(1000)  # stands in for a user's torchvision checkpoint (random weights)
    path = tmp_path / "densenet161.pth"
    torch.save(imagenet.state_dict(), path)
    model = mans_densenet161(num_classes=5, pretrained=str(path))
    assert model.config.pretrained == str(path)
    assert torch.equal(model.stcm.features.denseblock4.denselayer24.conv2.weight,
                       imagenet.features.denseblock4.denselayer24.conv2.weight)


def test_small_model_learns_a_separable_task():
    """End-to-end gradient flow through TARM and STCM: two classes that differ only in the
    temporal position of a bump are fitted within a few dozen SGD steps."""
    torch.manual_seed(0)
    S = 16
    model = mans_resnet(num_classes=2, size=S, hidden=8, resnet_stages=[1], resnet_width=8,
                        gru_dropout=0.0)
    x = torch.randn(32, 3, S, S) * 0.1
    y = torch.arange(32) % 2
    x[y == 0, :, :4] += 1.0  # class 0: motion early; class 1: motion late
    x[y == 1, :, -4:] += 1.0
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.5 and losses[-1] < 0.1, (losses[0], losses[-1])
    assert all(p.grad is not None for p in model.tarm.parameters())
