"""A GRU recurrence for many independent GRUs at once (one weight set per group).

The TARM runs 3 coordinate channels x 2 directions = 6 GRUs that share nothing but their shapes.
``torch.nn.GRU`` can only batch sequences that share one weight set, so here the 6 GRUs are a
leading *group* axis ``G`` and every step is one batched matmul ``(G, B, H) @ (G, H, 3H)``.

The input projections ``x_t @ W_ih + b_ih`` for all steps are computed by the caller in one einsum
(they do not depend on the state), so the sequential loop holds only the recurrent part.

Gate form (PyTorch's ``torch.nn.GRU``, gates ordered r, z, n, two biases)::

    r_t = sigmoid(gi_r + h_{t-1} W_hr + b_hr)
    z_t = sigmoid(gi_z + h_{t-1} W_hz + b_hz)
    n_t = tanh(gi_n + r_t * (h_{t-1} W_hn + b_hn))     # reset applied *after* the matmul
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}              # h_0 = 0

where ``gi = x_t W_ih + b_ih``. Keras 2's default GRU (``reset_after=False``) instead computes
``n_t = tanh(gi_n + (r_t * h_{t-1}) W_hn)`` with one bias per gate; see docs/model.md.

Training speed: autograd through a Python loop records ~10 small ops per step. The backward pass is
instead written out by hand (:class:`_GRUScan`), which saves the gates of the forward pass and runs
one loop of plain tensor ops; it is checked against autograd by ``torch.autograd.gradcheck`` in the
tests. Without gradients the plain loop :func:`gru_scan_loop` runs: in export and whenever the
TARM's ``recurrence`` is ``"scan"``; with the default ``"auto"``, CPU inference and CUDA use one
``torch.nn.GRU`` per channel instead (:mod:`mans.models.tarm`).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.func import functional_call


def gru_scan_loop(gi: Tensor, w_hh: Tensor, b_hh: Tensor,
                  h_mask: Tensor | None = None) -> Tensor:
    """Run G independent GRUs over time as a plain loop of autograd-friendly tensor ops: the path
    of inference and ONNX export (no gradients), and the reference the training path is tested
    against.

    Args:
        gi: input projections ``x_t W_ih + b_ih``, shape ``(T, G, B, 3H)``, gates r, z, n.
        w_hh: recurrent weights, ``(G, H, 3H)`` (``h @ w_hh``).
        b_hh: recurrent biases, ``(G, 3H)``.
        h_mask: optional recurrent-dropout mask ``(G, B, H)`` (already scaled by 1/(1-p)),
            multiplied into ``h_{t-1}`` before the recurrent matmul only (Keras' rule).

    Returns:
        hidden states ``(T, G, B, H)``.
    """
    T, G, B, H3 = gi.shape
    H = H3 // 3
    h = gi.new_zeros(G, B, H)  # (G, B, H)
    bias = b_hh.unsqueeze(1)  # (G, 1, 3H)
    out = []
    for t in range(T):
        hm = h if h_mask is None else h * h_mask
        gh = torch.baddbmm(bias, hm, w_hh)  # (G, B, 3H)
        rz = torch.sigmoid(gi[t, :, :, : 2 * H] + gh[:, :, : 2 * H])
        r, z = rz[:, :, :H], rz[:, :, H:]
        n = torch.tanh(gi[t, :, :, 2 * H :] + r * gh[:, :, 2 * H :])
        h = n + z * (h - n)  # = (1 - z) n + z h
        out.append(h)
    return torch.stack(out)  # (T, G, B, H)


class _GRUScan(torch.autograd.Function):
    """:func:`gru_scan_loop` with a hand-written backward pass (backprop through time)."""

    @staticmethod
    def forward(ctx, gi: Tensor, w_hh: Tensor, b_hh: Tensor, h_mask: Tensor | None) -> Tensor:
        T, G, B, H3 = gi.shape
        H = H3 // 3
        hs = gi.new_empty(T + 1, G, B, H)  # hs[t] = h_{t-1}; hs[0] = h_0 = 0
        hs[0].zero_()
        rz_all = gi.new_empty(T, G, B, 2 * H)  # sigmoid gates r, z
        n_all = gi.new_empty(T, G, B, H)  # candidate
        ghn_all = gi.new_empty(T, G, B, H)  # h_{t-1} W_hn + b_hn (needed for dr)
        bias = b_hh.unsqueeze(1)  # (G, 1, 3H)
        for t in range(T):
            h = hs[t]
            hm = h if h_mask is None else h * h_mask
            gh = torch.baddbmm(bias, hm, w_hh)  # (G, B, 3H)
            rz = torch.sigmoid(gi[t, :, :, : 2 * H] + gh[:, :, : 2 * H], out=rz_all[t])
            ghn = ghn_all[t].copy_(gh[:, :, 2 * H :])
            n = torch.tanh(torch.addcmul(gi[t, :, :, 2 * H :], rz[:, :, :H], ghn), out=n_all[t])
            torch.addcmul(n, rz[:, :, H:], h - n, out=hs[t + 1])
        ctx.save_for_backward(hs, rz_all, n_all, ghn_all, w_hh, h_mask)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        hs, rz_all, n_all, ghn_all, w_hh, h_mask = ctx.saved_tensors
        T, G, B, H = n_all.shape
        w_hh_t = w_hh.transpose(1, 2)  # (G, 3H, H)
        dgh_all = grad_out.new_empty(T, G, B, 3 * H)  # grad of h_{t-1} W_hh + b_hh
        dgi_all = grad_out.new_empty(T, G, B, 3 * H)  # grad of gi
        dh = grad_out.new_zeros(G, B, H)  # grad flowing into h_t from step t+1
        for t in range(T - 1, -1, -1):
            dh = dh + grad_out[t]
            h_prev, n = hs[t], n_all[t]
            r, z = rz_all[t, :, :, :H], rz_all[t, :, :, H:]
            dn = dh * (1 - z)
            dz = dh * (h_prev - n)
            dan = dn * (1 - n * n)  # through tanh
            dr = dan * ghn_all[t]
            dgi, dgh = dgi_all[t], dgh_all[t]
            torch.mul(dr * r, 1 - r, out=dgi[:, :, :H])  # through sigmoid
            torch.mul(dz * z, 1 - z, out=dgi[:, :, H : 2 * H])
            dgi[:, :, 2 * H :].copy_(dan)
            dgh[:, :, : 2 * H].copy_(dgi[:, :, : 2 * H])
            torch.mul(dan, r, out=dgh[:, :, 2 * H :])
            dhm = torch.bmm(dgh, w_hh_t)  # (G, B, H)
            if h_mask is not None:
                dhm = dhm * h_mask
            dh = dh * z + dhm
        # weight gradients for all steps in one batched matmul: sum_t hm_{t-1}^T dgh_t
        hm = hs[:-1] if h_mask is None else hs[:-1] * h_mask  # (T, G, B, H)
        d_w_hh = torch.einsum("tgbh,tgbk->ghk", hm, dgh_all)  # (G, H, 3H)
        d_b_hh = dgh_all.sum(dim=(0, 2))  # (G, 3H)
        return dgi_all, d_w_hh, d_b_hh, None


def gru_scan(gi: Tensor, w_hh: Tensor, b_hh: Tensor, h_mask: Tensor | None = None) -> Tensor:
    """G independent GRUs over time: hidden states ``(T, G, B, H)`` from projections ``gi``
    ``(T, G, B, 3H)``, recurrent weights ``w_hh (G, H, 3H)`` and biases ``b_hh (G, 3H)``.

    Uses the hand-written backward pass when gradients are needed, else the plain loop. Under
    autocast the recurrence runs in float32 (a 50-224 step recurrence in bf16/fp16 drifts, and
    the hand-written backward needs one dtype throughout); the result is float32.
    """
    if torch.is_autocast_enabled(gi.device.type):
        with torch.autocast(gi.device.type, enabled=False):
            return gru_scan(gi.float(), w_hh.float(), b_hh.float(),
                            None if h_mask is None else h_mask.float())
    if torch.is_grad_enabled() and (gi.requires_grad or w_hh.requires_grad or b_hh.requires_grad):
        return _GRUScan.apply(gi, w_hh, b_hh, h_mask)
    return gru_scan_loop(gi, w_hh, b_hh, h_mask)


# --- the same GRUs on torch.nn.GRU (cuDNN on CUDA) ------------------------------------------------


@functools.lru_cache(maxsize=None)
def _template(input_size: int, hidden: int) -> nn.GRU:
    """A bidirectional, batch-first ``nn.GRU`` used only as the code to run: its parameters live
    on the meta device (no memory) and are replaced on every call by :func:`functional_call`.
    One template is shared by every TARM of this process; ``functional_call`` swaps the
    parameters in for the call, so two threads must not run it at once (``nn.DataParallel``
    replicas would; mans uses DDP, one process per device)."""
    return nn.GRU(input_size, hidden, batch_first=True, bidirectional=True, device="meta")


def bigru_nn(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """One bidirectional GRU with explicit weights, run by ``torch.nn.GRU``.

    Same equations (gate order r, z, n; reset after the recurrent matmul; h_0 = 0) as
    :func:`gru_scan_loop`, so with the weights of one TARM channel it returns the forward
    and backward hidden states of the scan. On CUDA this is one cuDNN call for all T steps and
    both directions, instead of T small kernels per step.

    Args:
        x: input ``(B, T, I)``.
        w_ih: input weights ``(2, I, 3H)`` (``x @ w_ih``; index 0 = forward, 1 = backward).
        w_hh: recurrent weights ``(2, H, 3H)``.
        b_ih, b_hh: biases ``(2, 3H)``.

    Returns:
        ``(B, T, 2H)``: forward states, then backward states (aligned to the input's time).
    """
    H = w_hh.shape[1]
    gru = _template(x.shape[-1], H)
    params = {
        "weight_ih_l0": w_ih[0].t(), "weight_hh_l0": w_hh[0].t(),  # nn.GRU: (3H, I), (3H, H)
        "bias_ih_l0": b_ih[0], "bias_hh_l0": b_hh[0],
        "weight_ih_l0_reverse": w_ih[1].t(), "weight_hh_l0_reverse": w_hh[1].t(),
        "bias_ih_l0_reverse": b_ih[1], "bias_hh_l0_reverse": b_hh[1],
    }
    params = {k: v.contiguous() for k, v in params.items()}
    out, _ = functional_call(gru, params, (x,))  # (B, T, 2H)
    return out
