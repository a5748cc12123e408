"""The co-occurrence STCM (mans.models.cooccurrence) behind the TARM: the joint -> channel
transposition, body slots and frame motion against hand-computed arrays, the input shape the
network takes, its cost, and that it learns."""

from __future__ import annotations

import pytest
import torch

from mans.errors import ConfigError
from mans.models import build_model, count_flops, model_config
from mans.models.cooccurrence import (CooccurrenceSTCM, frame_motion, joints_to_channels,
                                      split_bodies)


def test_joints_to_channels_puts_joint_j_in_channel_j():
    # (N=1, F=2, T=1, V=3): feature f of joint j is 10 * f + j
    x = torch.tensor([[[[0.0, 1.0, 2.0]], [[10.0, 11.0, 12.0]]]])
    y = joints_to_channels(x)  # (1, V=3, T=1, F=2)
    assert y.shape == (1, 3, 1, 2)
    assert y[0, :, 0].tolist() == [[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]]


def test_split_bodies_and_frame_motion_by_hand():
    # (B=1, C=1, T=2, J=4): 2 slots of 2 joints; column b*V + v
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0], [5.0, 7.0, 9.0, 11.0]]]])
    s = split_bodies(x, 2)  # (2, 1, 2, 2)
    assert s[0, 0].tolist() == [[1.0, 2.0], [5.0, 7.0]]
    assert s[1, 0].tolist() == [[3.0, 4.0], [9.0, 11.0]]
    assert frame_motion(s)[1, 0].tolist() == [[6.0, 7.0], [0.0, 0.0]]


def test_in_the_network_joint_j_only_reaches_channel_j_of_its_body():
    """Changing one joint's input changes only that joint's channel of the transposed tensor
    (and only for its body slot): the transposition is the network's, not just the helper's."""
    torch.manual_seed(0)
    net = CooccurrenceSTCM(5, in_channels=3, joints=8, bodies=2, width=16).eval()
    seen = []
    hook = net.position.cooc1.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()))
    x = torch.randn(1, 3, 6, 8)
    y = x.clone()
    y[0, :, :, 6] += 1.0  # body 1 (columns 4..7), joint 2
    with torch.no_grad():
        net(x), net(y)
    hook.remove()
    a, b = seen  # each (2 slots, V=4 channels, T=6, F=8)
    changed = (a != b).flatten(2).any(dim=2)  # (slot, channel)
    assert changed.tolist() == [[False] * 4, [False, False, True, False]]


def test_mans_cooccurrence_takes_the_sequence_and_costs_little():
    m = build_model("mans_cooccurrence", num_classes=10, joints=40, bodies=2)
    assert m.config.input_shape == (3, 50, 40) and m.tarm.dims == 40
    assert m(torch.randn(2, 3, 50, 40)).shape == (2, 10)
    with pytest.raises(ConfigError, match=r"expects input \(B, 3, 50, 40\)"):
        m(torch.randn(2, 3, 50, 50))
    gflop = count_flops(m, (3, 50, 40))["total"] / 1e9
    assert 0.05 < gflop < 0.12  # the ResNet STCM at S = 50 costs 0.38
    small = build_model("mans_cooccurrence", num_classes=10, joints=20, size=32, hidden=32)
    assert count_flops(small, (3, 32, 20))["total"] / 1e9 < 0.04


def test_config_checks_joints_and_width():
    with pytest.raises(ConfigError, match="model.joints"):
        build_model("mans_cooccurrence", num_classes=3)  # training fills joints from the store
    with pytest.raises(ConfigError, match="model.joints"):
        model_config("mans_cooccurrence", joints=25, bodies=2)
    with pytest.raises(ConfigError, match="model.cooc_width"):
        model_config("mans_cooccurrence", joints=25, cooc_width=24)


def test_two_d_input_and_one_frame():
    m = build_model("mans_cooccurrence", num_classes=4, joints=15, in_channels=2, size=1,
                    hidden=8).eval()
    assert m(torch.randn(3, 2, 1, 15)).shape == (3, 4)


def test_the_network_learns_a_separable_toy_problem():
    torch.manual_seed(0)
    m = build_model("mans_cooccurrence", num_classes=2, joints=6, size=12, hidden=8,
                    cooc_width=16, gru_dropout=0.0, cooc_dropout=0.0)
    x = torch.randn(32, 3, 12, 6) * 0.1
    y = torch.arange(32) % 2
    x[y == 1, 0, :, 2] += torch.linspace(0, 1, 12)  # class 1: joint 2 moves along x
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
    m.eval()
    assert (m(x).argmax(1) == y).float().mean() == 1.0
