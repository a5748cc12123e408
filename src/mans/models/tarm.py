"""Temporal Attention Recalibration Module (TARM) of MANs, all channels in one batched pass.

The input image ``x (B, C, T, D)`` holds, per coordinate channel ``c`` (x, y, z), a plane of ``T``
frames by ``D`` joint columns. Each channel has its own, independent parameters (the authors build
three copies of the same Keras sub-network); here they are stacked along a leading channel axis
``C`` and applied with batched matmuls, so the three channels never run as separate code::

    e   = x_c W_in + b_in                          (B, T, H)   per-frame embedding
    h   = GRU_fwd(e) + GRU_bwd(e)                  (B, T, H)   bidirectional memory, summed
    m   = mean_H(e)                                (B, T)      one number per frame
    a   = sigmoid(W2 relu(W1 m + b1) + b2)         (B, T)      per-frame attention, W1: T -> T//r
    y_c = x_c + (h * a) W_out + b_out              (B, T, D)   recalibrated plane (residual)

As in the authors' code (``MANs_9.py``, ``MANs_densenet161.py``) the attention is computed from
the embedding ``e``, not from the GRU output ``h``. Parameter layouts (``x @ W`` orientation):
``in_weight (C, D, H)``, ``gru_w_ih (C, 2, H, 3H)``, ``gru_w_hh (C, 2, H, 3H)`` (direction 0 =
forward, 1 = backward; gates r, z, n), ``se_w1 (C, T, R)``, ``se_w2 (C, R, T)``,
``out_weight (C, H, D)``, and the matching biases.

Attention variants (model keys ``attention_*``; the defaults are the paper's form above). The
logits ``z (C, B, T)`` come from one of two sources, then one of two forms turns them into weights::

    source time_mlp   z = W2 relu(W1 m + b1) + b2          the paper: an MLP across the T frames of
                                                           m = mean_H(e); its hidden width
                                                           int(T / r) (2 for T = 32) lets it draw
                                                           only a few fixed profiles over time
    source memory     z_t = h_t . w_att + b_att            a score per frame from the frame's own
                                                           BiGRU memory (what the frame holds)
    scope frame       z <- mean_C(z)                       one weight per frame for all channels
    form sigmoid      a = sigmoid(z / tau)                 (0, 1), every frame on its own (paper)
    form softmax      a = T softmax_t(z / tau)             the frames compete: a >= 0, sum_t a = T

The softmax is multiplied by T so that its mean weight is 1, as the attention-free ablation's
``a = 1``: the recalibration term ``(h * a) W_out`` then keeps the scale it has without attention
(the paper's sigmoid starts at mean 0.5), and a uniform softmax is exactly the ablation.
Temperature ``tau`` (default 1): large -> uniform (sigmoid: 0.5, softmax: 1), small -> hard
(softmax: all T on the largest logit). :func:`attention_penalty` is the matching regulariser
(entropy of the per-frame distribution, L1), added to the loss by the training step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .gru import bigru_nn, gru_scan

RECURRENCES = ("auto", "scan", "nn")
ATTENTION_FORMS = ("sigmoid", "softmax")
ATTENTION_SCOPES = ("channel", "frame")
ATTENTION_SOURCES = ("time_mlp", "memory")


def attention_width(frames: int, reduction: int) -> int:
    """Hidden width of the attention MLP: ``int(T / r)`` as in the authors' code (3 for T = 50,
    14 for T = 224), at least 1 so that short sequences still get a valid layer."""
    return max(1, int(frames / reduction))


def attention_weights(z: Tensor, form: str = "sigmoid", temperature: float = 1.0,
                      scope: str = "channel") -> Tensor:
    """Per-frame weights ``a (C, B, T)`` from attention logits ``z (C, B, T)`` (module docstring).

    ``form`` ``"sigmoid"``: ``sigmoid(z / temperature)`` in (0, 1); ``"softmax"``:
    ``T * softmax(z / temperature)`` over the frames (sums to ``T`` per channel and sample, mean
    1). ``scope`` ``"frame"`` averages the logits over the channels first, so every channel gets
    the same weight per frame. The defaults are the paper's form, computed exactly as before the
    variants existed.
    """
    C, B, T = z.shape
    if scope == "frame":
        z = z.mean(dim=0, keepdim=True)  # (1, B, T)
    if temperature != 1.0:
        z = z / temperature
    if form == "sigmoid":
        a = torch.sigmoid(z)
    else:
        a = torch.softmax(z, dim=-1) * T  # (., B, T): mean 1 over the frames
    return a.expand(C, B, T) if scope == "frame" else a


def attention_penalty(attention: Tensor, entropy: float = 0.0, l1: float = 0.0) -> Tensor:
    """The attention regulariser added to the training loss (``train.attention_entropy``,
    ``train.attention_l1``), a float32 scalar.

    For the attention ``a (B, C, T)`` of a batch (``MANs(x, return_attention=True)``):

        p_bct   = a_bct / sum_t a_bct                       per-frame distribution
        H_bc    = -sum_t p_bct log p_bct / log T            normalised entropy in [0, 1]
        penalty = entropy * mean_bc H_bc + l1 * mean_bct |a_bct|

    ``H = 1`` for uniform weights and 0 for all weight on one frame: a positive ``entropy``
    weight pushes the weights of each sample onto few frames. The L1 term pushes the sigmoid's
    weights towards 0 (for the T-scaled softmax ``mean |a|`` is always 1, a constant). Padding
    rows count as frames (the TARM does not know which rows are padding). ``T = 1``: no entropy.
    """
    a = attention.float()
    out = a.new_zeros(())
    if entropy:
        T = a.shape[-1]
        if T > 1:
            p = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)
            h = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1) / math.log(T)  # (B, C)
            out = out + entropy * h.mean()
    if l1:
        out = out + l1 * a.abs().mean()
    return out


class TARM(nn.Module):
    """Per-channel BiGRU memory with per-frame attention, added back to the input.

    Args:
        frames: ``T``, rows of each plane (time).
        dims: ``D``, columns of each plane (joint coordinates, zero-padded).
        hidden: ``H``, width of the embedding and of each GRU direction.
        channels: ``C``, number of independent planes (3 coordinate axes).
        reduction: attention MLP squeeze factor ``r`` (hidden width ``int(T / r)``).
        dropout: dropout on the GRU input ``e`` during training; one mask per sample, feature
            and direction, shared over time (like Keras' ``GRU(dropout=...)``).
        recurrent_dropout: dropout on ``h_{t-1}`` before the recurrent matmul, one mask per
            sample, unit and direction shared over time (Keras' ``recurrent_dropout``).
        attention: False fixes ``a = 1`` (ablation "TARM without attention"); the attention MLP
            is then not created.
        attention_form: ``"sigmoid"`` (paper) or ``"softmax"`` (frames compete; scaled by T).
        attention_temperature: ``tau`` > 0 dividing the logits (1: the paper).
        attention_scope: ``"channel"`` (paper: a weight per channel and frame) or ``"frame"``
            (one weight per frame shared by the channels).
        attention_source: ``"time_mlp"`` (paper: ``se_*`` MLP across the frames of the mean
            embedding) or ``"memory"`` (a linear score of each frame's BiGRU memory,
            parameters ``att_w (C, H)``, ``att_b (C,)``).
        residual: False drops the ``x_c +`` skip (ablation).
        recurrence: how the 6 GRUs run. ``"scan"``: all 6 in one batched Python loop over the
            frames (:func:`~mans.models.gru.gru_scan`, hand-written backward); ``"nn"``: one
            bidirectional ``torch.nn.GRU`` call per channel (cuDNN on CUDA), which cannot apply
            a recurrent-dropout mask; ``"auto"`` (default): ``"nn"`` unless recurrent dropout is
            active (training with ``recurrent_dropout > 0``) or the pass runs on the CPU with
            gradients, where the scan's hand-written backward is faster for the ResNet variant
            (docs/performance.md).
            Not part of the weights or the config: it may be changed on a built module
            (``tarm.recurrence = "nn"``).
    """

    def __init__(
        self,
        frames: int,
        dims: int,
        hidden: int,
        channels: int = 3,
        reduction: int = 16,
        dropout: float = 0.5,
        recurrent_dropout: float = 0.0,
        attention: bool = True,
        residual: bool = True,
        recurrence: str = "auto",
        attention_form: str = "sigmoid",
        attention_temperature: float = 1.0,
        attention_scope: str = "channel",
        attention_source: str = "time_mlp",
    ) -> None:
        super().__init__()
        for name, v in (("frames", frames), ("dims", dims), ("hidden", hidden),
                        ("channels", channels), ("reduction", reduction)):
            if int(v) != v or v < 1:
                raise ConfigError(f"TARM: {name} must be a positive integer, got {v!r}")
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"TARM: {name} must be in [0, 1), got {p!r}")
        self.frames, self.dims, self.hidden, self.channels = frames, dims, hidden, channels
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.use_attention, self.residual = bool(attention), bool(residual)
        if recurrence not in RECURRENCES:
            raise ConfigError(f"TARM: recurrence must be one of {RECURRENCES}, got {recurrence!r}")
        self.recurrence = recurrence
        for name, v, options in (("attention_form", attention_form, ATTENTION_FORMS),
                                 ("attention_scope", attention_scope, ATTENTION_SCOPES),
                                 ("attention_source", attention_source, ATTENTION_SOURCES)):
            if v not in options:
                raise ConfigError(f"TARM: {name} must be one of {options}, got {v!r}")
        if isinstance(attention_temperature, bool) or not attention_temperature > 0:
            raise ConfigError(f"TARM: attention_temperature must be > 0, got "
                              f"{attention_temperature!r}")
        self.attention_form, self.attention_scope = attention_form, attention_scope
        self.attention_source = attention_source
        self.attention_temperature = float(attention_temperature)
        C, T, D, H = channels, frames, dims, hidden

        self.in_weight = nn.Parameter(torch.empty(C, D, H))
        self.in_bias = nn.Parameter(torch.empty(C, H))
        self.gru_w_ih = nn.Parameter(torch.empty(C, 2, H, 3 * H))
        self.gru_w_hh = nn.Parameter(torch.empty(C, 2, H, 3 * H))
        self.gru_b_ih = nn.Parameter(torch.empty(C, 2, 3 * H))
        self.gru_b_hh = nn.Parameter(torch.empty(C, 2, 3 * H))
        self._time_mlp = self.use_attention and attention_source == "time_mlp"
        self._memory_score = self.use_attention and attention_source == "memory"
        if self._time_mlp:
            R = attention_width(T, reduction)
            self.se_w1 = nn.Parameter(torch.empty(C, T, R))
            self.se_b1 = nn.Parameter(torch.empty(C, R))
            self.se_w2 = nn.Parameter(torch.empty(C, R, T))
            self.se_b2 = nn.Parameter(torch.empty(C, T))
        if self._memory_score:
            self.att_w = nn.Parameter(torch.empty(C, H))
            self.att_b = nn.Parameter(torch.empty(C))
        self.out_weight = nn.Parameter(torch.empty(C, H, D))
        self.out_bias = nn.Parameter(torch.empty(C, D))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Keras defaults of the authors' layers: Dense kernels Glorot-uniform, GRU kernels
        orthogonal (each (H, 3H) matrix as a whole), all biases zero."""
        for w in (self.in_weight, self.out_weight) + (
            (self.se_w1, self.se_w2) if self._time_mlp else ()
        ):
            fan_in, fan_out = w.shape[-2], w.shape[-1]
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            w.uniform_(-bound, bound)
        if self._memory_score:  # a Dense(1) per channel: fan_in H, fan_out 1
            bound = math.sqrt(6.0 / (self.hidden + 1))
            self.att_w.uniform_(-bound, bound)
            self.att_b.zero_()
        for w in (self.gru_w_ih, self.gru_w_hh):
            for m in w.view(-1, *w.shape[-2:]):  # one (H, 3H) matrix per channel and direction
                nn.init.orthogonal_(m)
        for b in (self.in_bias, self.out_bias, self.gru_b_ih, self.gru_b_hh) + (
            (self.se_b1, self.se_b2) if self._time_mlp else ()
        ):
            b.zero_()

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, frames={self.frames}, dims={self.dims}, "
                f"hidden={self.hidden}, attention={self.use_attention}, residual={self.residual}, "
                f"dropout={self.dropout}, recurrent_dropout={self.recurrent_dropout}"
                + (f", attention_form={self.attention_form}, "
                   f"attention_temperature={self.attention_temperature}, "
                   f"attention_scope={self.attention_scope}, "
                   f"attention_source={self.attention_source}" if self.use_attention else ""))

    def _attention(self, e: Tensor, h: Tensor) -> Tensor:
        """Per-frame weights ``a (C, B, T)`` from the embedding ``e (C, B, T, H)`` (source
        ``time_mlp``) or the memory ``h (C, B, T, H)`` (source ``memory``)."""
        if self._time_mlp:
            m = e.mean(dim=-1)  # (C, B, T): squeeze over features
            s = F.relu(torch.baddbmm(self.se_b1.unsqueeze(1), m, self.se_w1))  # (C, B, R)
            z = torch.baddbmm(self.se_b2.unsqueeze(1), s, self.se_w2)  # (C, B, T)
        else:
            z = torch.einsum("cbth,ch->cbt", h, self.att_w) + self.att_b[:, None, None]
        return attention_weights(z, self.attention_form, self.attention_temperature,
                                 self.attention_scope)  # (C, B, T)

    def _use_nn(self, e: Tensor) -> bool:
        """Whether :meth:`_memory` runs on ``torch.nn.GRU`` (see ``recurrence``)."""
        recurrent_mask = self.training and self.recurrent_dropout > 0
        if self.recurrence == "nn":
            if recurrent_mask:
                raise ConfigError("TARM: recurrence 'nn' (torch.nn.GRU) cannot apply recurrent "
                                  "dropout; set model.gru_recurrent_dropout=0 or use 'scan'")
            return True
        if self.recurrence == "scan" or recurrent_mask:
            return False
        return e.is_cuda or not torch.is_grad_enabled()

    def _memory_nn(self, e: Tensor, mask: Tensor | None) -> Tensor:
        """:meth:`_memory` on ``torch.nn.GRU``: one bidirectional call per channel.

        The input-dropout mask differs between the two directions, which one ``nn.GRU`` call
        (both directions read the same input) cannot express; with a mask the two masked copies
        are concatenated along the features, ``[e * m_fwd, e * m_bwd] (B, T, 2H)``, and each
        direction's input weights are padded with zeros for the other copy. Under autocast the
        recurrence runs in float32, as in :func:`~mans.models.gru.gru_scan`.
        """
        if torch.is_autocast_enabled(e.device.type):
            with torch.autocast(e.device.type, enabled=False):
                return self._memory_nn(e.float(), None if mask is None else mask.float())
        C, B, T, H = e.shape
        out = []
        for c in range(C):  # the channels have separate weights: one call each
            w_ih = self.gru_w_ih[c]  # (2, H, 3H)
            if mask is None:
                x = e[c]  # (B, T, H)
            else:
                x = torch.cat((e[c] * mask[c, 0], e[c] * mask[c, 1]), dim=-1)  # (B, T, 2H)
                zero = torch.zeros_like(w_ih[0])
                w_ih = torch.stack((torch.cat((w_ih[0], zero)), torch.cat((zero, w_ih[1]))))
            h2 = bigru_nn(x, w_ih, self.gru_w_hh[c], self.gru_b_ih[c], self.gru_b_hh[c])
            out.append(h2[..., :H] + h2[..., H:])  # (B, T, H): merge_mode='sum'
        return torch.stack(out)  # (C, B, T, H)

    def _memory(self, e: Tensor) -> Tensor:
        """Bidirectional GRU over ``e (C, B, T, H)``, directions summed -> ``(C, B, T, H)``."""
        C, B, T, H = e.shape
        mask = None
        if self.training and self.dropout > 0:
            # one mask per (channel, direction, sample, feature), shared by all frames
            keep = 1.0 - self.dropout
            mask = e.new_empty(C, 2, B, 1, H).bernoulli_(keep) / keep
        if self._use_nn(e):
            return self._memory_nn(e, mask)
        if mask is not None:
            gi = torch.einsum("cdbth,cdhk->cdbtk", e.unsqueeze(1) * mask, self.gru_w_ih)
        else:
            gi = torch.einsum("cbth,cdhk->cdbtk", e, self.gru_w_ih)  # (C, 2, B, T, 3H)
        gi = gi + self.gru_b_ih[:, :, None, None, :]
        # the backward direction reads time reversed; flip once so one loop serves all 2C GRUs
        gi = torch.stack((gi[:, 0], gi[:, 1].flip(2)), dim=1)  # (C, 2, B, T, 3H)
        gi = gi.permute(3, 0, 1, 2, 4).reshape(T, 2 * C, B, 3 * H)  # (T, G=2C, B, 3H)
        h_mask = None
        if self.training and self.recurrent_dropout > 0:
            keep = 1.0 - self.recurrent_dropout
            h_mask = e.new_empty(2 * C, B, H).bernoulli_(keep) / keep
        h = gru_scan(gi, self.gru_w_hh.reshape(2 * C, H, 3 * H),
                     self.gru_b_hh.reshape(2 * C, 3 * H), h_mask)  # (T, 2C, B, H)
        h = h.view(T, C, 2, B, H)
        h = h[:, :, 0] + h[:, :, 1].flip(0)  # (T, C, B, H): merge_mode='sum'
        return h.permute(1, 2, 0, 3)  # (C, B, T, H)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Recalibrate ``x (B, C, T, D)``.

        Returns:
            ``y (B, C, T, D)`` and the per-frame attention ``a (B, C, T)`` (in (0, 1) for the
            sigmoid form, summing to ``T`` over the frames for the softmax; all ones when
            ``attention=False``).
        """
        B, C, T, D = x.shape
        if (C, T, D) != (self.channels, self.frames, self.dims):
            raise ConfigError(f"TARM expects input (B, {self.channels}, {self.frames}, "
                              f"{self.dims}), got {tuple(x.shape)}")
        xc = x.transpose(0, 1)  # (C, B, T, D)
        e = torch.einsum("cbtd,cdh->cbth", xc, self.in_weight) + self.in_bias[:, None, None, :]
        h = self._memory(e)  # (C, B, T, H)
        if self.use_attention:
            a = self._attention(e, h)  # (C, B, T)
            h = h * a.unsqueeze(-1)
        else:
            a = x.new_ones(C, B, T)
        y = torch.einsum("cbth,chd->cbtd", h, self.out_weight) + self.out_bias[:, None, None, :]
        if self.residual:
            y = y + xc
        return y.transpose(0, 1), a.transpose(0, 1)
