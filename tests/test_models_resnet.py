"""ResNet STCM: TensorFlow 'same' padding, block layout, shapes, and parameter/FLOP counts
derived by hand from the layer shapes of the authors' MANs_9.py."""

from __future__ import annotations

import pytest
import torch

from mans.errors import ConfigError
from mans.models import build_model, count_flops, count_parameters
from mans.models.resnet import Conv2dSame, PreActBlock, ResNetSTCM, same_padding


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (50, 5, 2, (1, 2)),  # the stem: TF puts the odd pixel after
    (25, 3, 2, (1, 1)),
    (26, 3, 2, (0, 1)),
    (13, 3, 1, (1, 1)),
    (7, 1, 2, (0, 0)),
])
def test_same_padding_matches_tensorflow_rule(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def test_conv_same_impulse_response_is_tensorflow_aligned():
    """TF 'same' (pad 1 before, 2 after for 50/5/2): output (0, 0) sees input rows/cols -1..3,
    so an impulse at input (0, 0) meets kernel tap (1, 1); PyTorch's symmetric padding=2 would
    give tap (2, 2)."""
    conv = Conv2dSame(1, 1, 5, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(25.0).view(1, 1, 5, 5))
    x = torch.zeros(1, 1, 50, 50)
    x[0, 0, 0, 0] = 1.0
    y = conv(x)
    assert y.shape == (1, 1, 25, 25)
    assert y[0, 0, 0, 0].item() == 6.0  # tap (1, 1) = 1 * 5 + 1
    # impulse at input (2, 4): output (1, 2) covers rows 1..5, cols 3..7 -> tap (1, 1) again
    x.zero_()
    x[0, 0, 2, 4] = 1.0
    assert conv(x)[0, 0, 1, 2].item() == 6.0


def test_block_layout_follows_authors_code():
    net = ResNetSTCM(10)
    b = list(net.blocks)
    assert len(b) == 4
    assert b[0].bn1 is None and all(x.bn1 is not None for x in b[1:])  # first block: no pre-act
    assert [x.shortcut is not None for x in b] == [False, False, True, False]
    assert b[2].conv1.stride == (2, 2) and b[2].shortcut.stride == (2, 2)
    assert b[2].shortcut.kernel_size == (1, 1) and b[2].shortcut.padding == (0, 0)


def test_feature_map_sizes():
    net = ResNetSTCM(10).eval()
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
             for m in (net.stem, *net.blocks)]
    with torch.no_grad():
        out = net(torch.randn(2, 3, 50, 50))
    for h in hooks:
        h.remove()
    assert out.shape == (2, 10)
    assert shapes == [(2, 64, 25, 25)] * 3 + [(2, 128, 13, 13)] * 2


def test_preact_block_is_shortcut_plus_residual():
    blk = PreActBlock(4, 8, stride=2).eval()
    x = torch.randn(1, 4, 9, 9)
    with torch.no_grad():
        r = blk.conv2(torch.relu(blk.bn2(blk.conv1(torch.relu(blk.bn1(x))))))
        torch.testing.assert_close(blk(x), r + blk.shortcut(x))


def _conv(k, cin, cout):  # weights + bias (Keras Conv2D has a bias)
    return k * k * cin * cout + cout


def _bn(c):  # gamma + beta (running stats are buffers)
    return 2 * c


def test_parameter_count_of_resnet_variant_by_hand():
    K = 60
    stem = _conv(5, 3, 64) + _bn(64)
    stage1 = (_conv(3, 64, 64) + _bn(64) + _conv(3, 64, 64)) + (
        _bn(64) + _conv(3, 64, 64) + _bn(64) + _conv(3, 64, 64))
    stage2 = (_bn(64) + _conv(3, 64, 128) + _bn(128) + _conv(3, 128, 128) + _conv(1, 64, 128)) + (
        _bn(128) + _conv(3, 128, 128) + _bn(128) + _conv(3, 128, 128))
    head = _bn(128) + 128 * K + K
    stcm = stem + stage1 + stage2 + head
    T = D = 50
    H, R, C = 64, 3, 3
    gru_direction = 3 * H * H + 3 * H * H + 3 * H + 3 * H  # W_ih, W_hh, b_ih, b_hh
    tarm = C * ((D * H + H) + 2 * gru_direction + (T * R + R) + (R * T + T) + (H * D + D))
    assert (stcm, tarm) == (686_908, 170_361)  # the same sums, written out once
    model = build_model("mans_resnet", num_classes=K)
    assert count_parameters(model.stcm) == stcm
    assert count_parameters(model.tarm) == tarm
    assert count_parameters(model) == stcm + tarm


def test_parameter_count_of_configured_resnet():
    net = ResNetSTCM(5, stages=(1, 1, 1), width=8)
    expected = (_conv(5, 3, 8) + _bn(8)
                + _conv(3, 8, 8) + _bn(8) + _conv(3, 8, 8)
                + _bn(8) + _conv(3, 8, 16) + _bn(16) + _conv(3, 16, 16) + _conv(1, 8, 16)
                + _bn(16) + _conv(3, 16, 32) + _bn(32) + _conv(3, 32, 32) + _conv(1, 16, 32)
                + _bn(32) + 32 * 5 + 5)
    assert count_parameters(net) == expected


def test_forward_flops_of_resnet_variant_by_hand():
    """2 FLOPs per multiply-add of every conv, linear and GRU matmul (biases not counted)."""
    K, T, D, H, R, C = 60, 50, 50, 64, 3, 3
    conv = lambda k, cin, cout, hw: 2 * k * k * cin * cout * hw * hw  # noqa: E731
    stcm = (conv(5, 3, 64, 25) + 4 * conv(3, 64, 64, 25) + conv(3, 64, 128, 13)
            + 3 * conv(3, 128, 128, 13) + conv(1, 64, 128, 13) + 2 * 128 * K)
    gru = 2 * (2 * T * H * 3 * H + 2 * T * H * 3 * H)  # 2 directions x (input + recurrent)
    tarm = C * (2 * T * D * H + gru + 2 * T * R + 2 * R * T + 2 * T * H * D)
    flops = count_flops(build_model("mans_resnet", num_classes=K), (3, 50, 50), batch=2)
    assert flops["stcm"] == stcm
    assert flops["tarm"] == tarm
    assert flops["total"] == stcm + tarm


def test_bad_stages_are_config_errors():
    with pytest.raises(ConfigError, match="stages"):
        ResNetSTCM(5, stages=())
    with pytest.raises(ConfigError, match="stages"):
        ResNetSTCM(5, stages=(2, 0))
