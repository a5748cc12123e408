"""Skeleton-aware joint mixing (mans.models.joint_mixing): at initialisation the normalised
adjacency product, hand-computed for a 3-joint chain; per-group refinement; in the
co-occurrence STCM, configured and trained from a store's layout."""

from __future__ import annotations

import math

import pytest
import torch

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.engine.checkpoint import Checkpoint
from mans.engine.train import run_training
from mans.errors import ConfigError
from mans.models import build_model, count_flops, model_config
from mans.models.joint_mixing import JointMixing, normalised_adjacency

CHAIN = (-1, 0, 1)  # 0 - 1 - 2
R6, R2 = 1 / math.sqrt(6), 0.5
# A + I = [[1,1,0],[1,1,1],[0,1,1]], degrees 2, 3, 2: entry / sqrt(d_i d_j)
A_HAT = [[R2, R6, 0.0], [R6, 1 / 3, R6], [0.0, R6, R2]]


def test_normalised_adjacency_of_a_chain_by_hand():
    torch.testing.assert_close(normalised_adjacency(CHAIN), torch.tensor(A_HAT))


def test_at_init_the_mixing_is_the_adjacency_product():
    m = JointMixing(CHAIN, channels=4, groups=2)
    x = torch.zeros(1, 4, 1, 3)
    x[0, 0, 0] = torch.tensor([1.0, 0.0, 0.0])  # a unit at joint 0
    x[0, 3, 0] = torch.tensor([0.0, 6.0, 0.0])  # 6 at joint 1
    y = m(x)
    # y[w] = sum_v x[v] A_hat[v, w]
    torch.testing.assert_close(y[0, 0, 0], torch.tensor([R2, R6, 0.0]))
    torch.testing.assert_close(y[0, 3, 0], torch.tensor([6 * R6, 2.0, 6 * R6]))
    assert torch.all(y[0, 1:3] == 0)


def test_each_group_refines_its_own_channels():
    m = JointMixing(CHAIN, channels=4, groups=2)
    with torch.no_grad():
        m.refine[1, 0, 2] = 1.0  # group 1 (channels 2, 3): joint 0 also feeds joint 2
    x = torch.zeros(1, 4, 1, 3)
    x[0, :, 0, 0] = 1.0
    y = m(x)[0, :, 0]  # (4, 3)
    torch.testing.assert_close(y[:2], torch.tensor([[R2, R6, 0.0]] * 2))
    torch.testing.assert_close(y[2:], torch.tensor([[R2, R6, 1.0]] * 2))
    assert "adjacency" not in m.state_dict() and "refine" in m.state_dict()
    with pytest.raises(ConfigError, match="model.mixing_groups"):
        JointMixing(CHAIN, channels=6, groups=4)


def test_config_of_the_mixing():
    with pytest.raises(ConfigError, match="model.joint_mixing"):
        model_config("mans_resnet", joint_mixing=True)
    with pytest.raises(ConfigError, match="model.parents"):
        build_model("mans_cooccurrence", joints=6, bodies=2, joint_mixing=True)
    net = build_model("mans_cooccurrence", num_classes=3, joints=6, bodies=2, size=8,
                      hidden=8, cooc_width=16, joint_mixing=True, parents=[-1, 0, 1])
    assert isinstance(net.stcm.position.mixing, JointMixing)
    assert net.config.to_dict()["parents"] == [-1, 0, 1]
    plain = build_model("mans_cooccurrence", num_classes=3, joints=6, bodies=2, size=8,
                        hidden=8, cooc_width=16)
    extra = count_flops(net, (3, 8, 6))["total"] - count_flops(plain, (3, 8, 6))["total"]
    assert extra == 2 * 2 * (2 * 8 * 8 * 3 * 3)  # 2 branches x 2 slots x 2 F T V^2 (F = 8)


def test_training_fills_the_parents_from_the_store(tiny_store, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    run_training("base", data=tiny_store, out=out, progress=False,
                 overrides=[*TINY, "model.name=mans_cooccurrence", "model.cooc_width=16",
                            "model.joint_mixing=true", "model.mixing_groups=2",
                            "train.epochs=1", "train.selection=last"])
    state = Checkpoint.load(out / "last.pt")
    from mans.skeleton import builtin_layout

    assert state.model_config["parents"] == list(builtin_layout("ntu25").parents)
    assert state.build_model().stcm.motion.mixing.refine.shape == (2, 25, 25)
