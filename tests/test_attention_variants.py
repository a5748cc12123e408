"""The TARM attention variants (form, temperature, scope, source) and the attention regulariser,
against hand-computed values; the defaults are the paper's form, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.errors import ConfigError
from mans.models import MANsConfig, attention_penalty, build_model
from mans.models.tarm import TARM, attention_weights


def _random_tarm(seed=0, **kw) -> TARM:
    torch.manual_seed(seed)
    m = TARM(**(dict(frames=9, dims=7, hidden=5, channels=3, reduction=3) | kw)).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return m.requires_grad_(False)


def test_softmax_weights_sum_to_T_and_have_mean_one():
    z = torch.tensor([[[0.0, 1.0, 2.0, 3.0]]], dtype=torch.float64)  # (C=1, B=1, T=4)
    a = attention_weights(z, "softmax")
    e = np.exp([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(a[0, 0].numpy(), 4 * e / e.sum(), rtol=1e-12)
    assert float(a.sum()) == pytest.approx(4.0)
    m = _random_tarm(attention_form="softmax")
    _, att = m(torch.randn(6, 3, 9, 7, dtype=torch.float64))  # (B, C, T)
    np.testing.assert_allclose(att.sum(-1).numpy(), np.full((6, 3), 9.0), rtol=1e-12)
    assert (att > 0).all()


def test_temperature_limits():
    z = torch.tensor([[[0.3, -1.0, 2.0, 0.5]]], dtype=torch.float64)
    # large temperature: uniform (softmax 1 per frame, sigmoid 0.5)
    np.testing.assert_allclose(attention_weights(z, "softmax", 1e9).numpy(), 1.0, atol=1e-8)
    np.testing.assert_allclose(attention_weights(z, "sigmoid", 1e9).numpy(), 0.5, atol=1e-8)
    # small temperature: all T on the largest logit
    np.testing.assert_allclose(attention_weights(z, "softmax", 1e-4)[0, 0].numpy(),
                               [0.0, 0.0, 4.0, 0.0], atol=1e-8)
    # tau = 2 halves the logits: sigmoid(z / 2)
    np.testing.assert_allclose(attention_weights(z, "sigmoid", 2.0).numpy(),
                               1 / (1 + np.exp(-z.numpy() / 2)), rtol=1e-12)


def test_frame_scope_shares_one_weight_per_frame_over_channels():
    z = torch.tensor([[[0.0, 2.0]], [[2.0, 0.0]], [[1.0, 4.0]]], dtype=torch.float64)  # (3,1,2)
    a = attention_weights(z, "softmax", scope="frame")
    # channel-mean logits (1, 2): weights 2 * softmax((1, 2))
    want = 2 * np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    for c in range(3):
        np.testing.assert_allclose(a[c, 0].numpy(), want, rtol=1e-12)
    m = _random_tarm(attention_scope="frame")
    _, att = m(torch.randn(4, 3, 9, 7, dtype=torch.float64))
    assert torch.equal(att[:, 0], att[:, 1]) and torch.equal(att[:, 0], att[:, 2])
    assert ((att > 0) & (att < 1)).all()  # still the sigmoid


def test_memory_source_scores_each_frames_memory():
    """a = softmax over the frames of h_t . w + b, with h the module's own BiGRU memory; the
    output is x + (h * a) W_out + b_out."""
    m = _random_tarm(attention_form="softmax", attention_source="memory")
    assert not hasattr(m, "se_w1") and m.att_w.shape == (3, 5) and m.att_b.shape == (3,)
    x = torch.randn(4, 3, 9, 7, dtype=torch.float64)
    y, att = m(x)
    xc = x.transpose(0, 1)
    e = torch.einsum("cbtd,cdh->cbth", xc, m.in_weight) + m.in_bias[:, None, None, :]
    h = m._memory(e)  # (C, B, T, H)
    z = (h * m.att_w[:, None, None, :]).sum(-1) + m.att_b[:, None, None]  # (C, B, T)
    a = 9 * torch.softmax(z, dim=-1)
    torch.testing.assert_close(att, a.transpose(0, 1))
    want = torch.einsum("cbth,chd->cbtd", h * a[..., None], m.out_weight) \
        + m.out_bias[:, None, None, :] + xc
    torch.testing.assert_close(y, want.transpose(0, 1))


def test_default_is_the_papers_sigmoid_bit_for_bit():
    m = _random_tarm()
    x = torch.randn(3, 3, 9, 7, dtype=torch.float64)
    _, att = m(x)
    e = torch.einsum("cbtd,cdh->cbth", x.transpose(0, 1), m.in_weight) \
        + m.in_bias[:, None, None, :]
    s = F.relu(torch.baddbmm(m.se_b1.unsqueeze(1), e.mean(-1), m.se_w1))
    old = torch.sigmoid(torch.baddbmm(m.se_b2.unsqueeze(1), s, m.se_w2))  # the code before
    assert torch.equal(att, old.transpose(0, 1))


def test_old_configs_load_with_the_papers_form_and_the_same_parameters():
    old = {k: v for k, v in MANsConfig(num_classes=4).to_dict().items()
           if not k.startswith("attention_")}  # a checkpoint written before the variants
    c = MANsConfig.from_dict(old)
    assert (c.attention_form, c.attention_temperature, c.attention_scope,
            c.attention_source) == ("sigmoid", 1.0, "channel", "time_mlp")
    names = {n for n, _ in build_model("mans_resnet", num_classes=4).tarm.named_parameters()}
    assert {"se_w1", "se_b1", "se_w2", "se_b2"} <= names and "att_w" not in names


@pytest.mark.parametrize("key,value", [("attention_form", "tanh"), ("attention_scope", "joint"),
                                       ("attention_source", "gru"),
                                       ("attention_temperature", 0.0)])
def test_bad_variant_keys_name_the_key(key, value):
    with pytest.raises(ConfigError, match=f"model.{key}"):
        MANsConfig(**{key: value})


def test_penalty_values_by_hand():
    T = 4
    uniform = torch.ones(1, 1, T)
    one_hot = torch.tensor([[[4.0, 0.0, 0.0, 0.0]]])
    halves = torch.tensor([[[2.0, 2.0, 0.0, 0.0]]])
    assert float(attention_penalty(uniform, entropy=0.3)) == pytest.approx(0.3)  # H = 1
    assert float(attention_penalty(one_hot, entropy=0.3)) == pytest.approx(0.0, abs=1e-6)
    # p = (1/2, 1/2, 0, 0): H = log 2 / log 4 = 1/2
    assert float(attention_penalty(halves, entropy=1.0)) == pytest.approx(0.5)
    # batch and channel mean: (1 + 0.5) / 2
    both = torch.cat([uniform, halves], dim=1)  # (B=1, C=2, T)
    assert float(attention_penalty(both, entropy=1.0)) == pytest.approx(0.75)
    # L1: mean |a| = (0.2 + 0.4 + 0.6 + 0.8) / 4 = 0.5
    a = torch.tensor([[[0.2, 0.4, 0.6, 0.8]]])
    assert float(attention_penalty(a, l1=2.0)) == pytest.approx(1.0)
    p = np.array([0.2, 0.4, 0.6, 0.8]) / 2.0
    h = -(p * np.log(p)).sum() / math.log(4)
    assert float(attention_penalty(a, entropy=1.0, l1=2.0)) == pytest.approx(h + 1.0, rel=1e-6)
    assert float(attention_penalty(a)) == 0.0


def test_train_step_adds_the_penalty_to_the_loss():
    from mans.engine.train import compute_loss, train_step

    torch.manual_seed(0)
    model = build_model("mans_resnet", num_classes=3, size=12, hidden=4, resnet_width=4,
                        resnet_stages=[1], gru_dropout=0.0, attention_form="softmax")
    x, y = torch.randn(4, 3, 12, 12), torch.tensor([0, 1, 2, 0])
    model.train()
    with torch.no_grad():
        logits, att = model(x, return_attention=True)
        want = float(compute_loss(logits, y) + attention_penalty(att, 0.5, 0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    loss, _ = train_step(model, x, y, opt, attention_entropy=0.5, attention_l1=0.1)
    assert loss == pytest.approx(want, rel=1e-6)


def test_entropy_penalty_sharpens_the_attention():
    """Minimising the penalty alone (no data term to speak of): the entropy falls."""
    torch.manual_seed(0)
    m = TARM(frames=8, dims=5, hidden=4, reduction=2, dropout=0.0, attention_form="softmax",
             attention_source="memory")
    x = torch.randn(16, 3, 8, 5)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        _, att = m(x)
        pen = attention_penalty(att, entropy=1.0)
        first = float(pen.detach()) if first is None else first
        opt.zero_grad()
        pen.backward()
        opt.step()
    assert float(pen.detach()) < 0.5 * first


def test_run_config_refuses_a_penalty_without_attention():
    from mans.engine.config import resolve_config

    with pytest.raises(ConfigError, match="train.attention_entropy"):
        resolve_config("base", ["train.attention_entropy=0.1", "model.attention=false"])
    with pytest.raises(ConfigError, match="train.attention_l1"):
        resolve_config("base", ["train.attention_l1=-1"])
    cfg = resolve_config("base", ["model.attention_form=softmax", "model.attention_scope=frame",
                                  "train.attention_entropy=0.1"])
    assert cfg.model.overrides()["attention_form"] == "softmax"


def test_a_softmax_run_trains_and_its_checkpoint_predicts(tiny_store, tmp_path):
    from mans.engine.checkpoint import Checkpoint, build_model_from_checkpoint
    from mans.engine.train import run_training

    m = run_training("base", data=tiny_store, out=tmp_path / "r", progress=False, device="cpu",
                     overrides=[*TINY, "model.attention_form=softmax",
                                "model.attention_source=memory", "model.attention_scope=frame",
                                "train.attention_entropy=0.05"])
    assert 0 <= m["top1"] <= 1
    a = m["attention"]
    assert a["samples"] == m["n_test"] and a["label"].startswith("attention (")
    state = Checkpoint.load(tmp_path / "r" / "best.pt")
    assert state.model_config["attention_form"] == "softmax"
    net = build_model_from_checkpoint(state, torch.device("cpu")).eval()
    _, att = net(torch.randn(2, 3, 28, 28), return_attention=True)
    np.testing.assert_allclose(att.sum(-1).detach().numpy(), 28.0, rtol=1e-5)
