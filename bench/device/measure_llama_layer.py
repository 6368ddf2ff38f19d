#!/usr/bin/env python3
"""Times Llama 3 8B decoder layers written as torchtitan writes them, forward + backward, on one GPU.

Usage: python3 bench/device/measure_llama_layer.py OUT.json [fp8] [tp=N] [batch=N]   (PyTorch with CUDA; pynvml)

The layer is torchtitan's Llama 3 TransformerBlock (its model.py): RMSNorm in fp32 as separate PyTorch ops, wq/wk/wv/wo
and w1/w2/w3 as separate BF16 linears, rotary positions by complex multiplication, KV heads repeated to the query
heads, causal SDPA (FlashAttention-2 backend), SwiGLU as silu(w1 x) * w3 x, residual adds. LAYERS layers run forward
and backward on one micro-batch (batch 2, sequence 8192: the torchtitan 8B FSDP runs' local batch), no recomputation,
eager and under torch.compile, timed over measure_hopper's sustained window with the SM clock and board power
sampled meanwhile (the committed profiles were taken over ten calls after 0.3 s of warm-up, the same method). What it
measures is one GPU's share of a step without communication, optimizer, embedding or loss: the layer cost hpsim
models.
With `fp8` the seven linears run FP8 with one dynamic scale per tensor, as torchao's tensorwise recipe does: each
operand's amax, a cast to E4M3, torch._scaled_mm (cuBLASLt), and in the backward the transposed FP8 copies the weight
and data gradients need; the weights are cast at every forward (torchao without FSDP's FP8 all-gather).
With tp=N the layer is one tensor-parallel rank's shard (heads, KV heads and MLP columns divided by N, every token
through it, no communication): the compute of a tp-N plan without sequence parallelism.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from measure_hopper import NVML, pynvml, sustained  # noqa: E402

DIM, HD, HEADS, KV_HEADS, FFN, EPS = 4096, 128, 32, 8, 14336, 1e-5
E4M3_MAX = 448.0


def to_fp8(t):
    """One scale for the whole tensor from its amax: the E4M3 copy and the scale that undoes it."""
    scale = E4M3_MAX / t.abs().max().float().clamp(min=1e-12)
    return (t.float() * scale).to(torch.float8_e4m3fn), scale.reciprocal()


class Fp8Matmul(torch.autograd.Function):
    """y = x w^T with both operands cast to FP8 per tensor; the backward casts the output gradient likewise."""

    @staticmethod
    def forward(ctx, x, w):
        x8, xs = to_fp8(x.reshape(-1, x.shape[-1]))
        w8, ws = to_fp8(w)
        y = torch._scaled_mm(x8, w8.t(), scale_a=xs, scale_b=ws, out_dtype=torch.bfloat16)
        ctx.save_for_backward(x8, xs, w8, ws)
        return y.view(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, gy):
        x8, xs, w8, ws = ctx.saved_tensors
        g8, gs = to_fp8(gy.reshape(-1, gy.shape[-1]))
        gx = torch._scaled_mm(g8, w8.t().contiguous().t(), scale_a=gs, scale_b=ws, out_dtype=torch.bfloat16)
        gw = torch._scaled_mm(g8.t().contiguous(), x8.t().contiguous().t(), scale_a=gs, scale_b=xs,
                              out_dtype=torch.bfloat16)
        return gx.view(*gy.shape[:-1], w8.shape[1]), gw


class Linear(nn.Linear):
    fp8 = False

    def forward(self, x):
        return Fp8Matmul.apply(x, self.weight) if Linear.fp8 else super().forward(x)
BATCH, SEQ, LAYERS = 2, 8192, 4


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        h = x.float()
        return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + EPS)).type_as(x) * self.weight


def rotary(xq, xk, freqs):
    q = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    k = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    f = freqs.view(1, q.shape[1], 1, q.shape[-1])
    return torch.view_as_real(q * f).flatten(3).type_as(xq), torch.view_as_real(k * f).flatten(3).type_as(xk)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        hd = HD
        self.wq, self.wk = Linear(DIM, HEADS * hd, bias=False), Linear(DIM, KV_HEADS * hd, bias=False)
        self.wv, self.wo = Linear(DIM, KV_HEADS * hd, bias=False), Linear(HEADS * hd, DIM, bias=False)
        self.w1, self.w3 = Linear(DIM, FFN, bias=False), Linear(DIM, FFN, bias=False)
        self.w2 = Linear(FFN, DIM, bias=False)
        self.attention_norm, self.ffn_norm = RMSNorm(DIM), RMSNorm(DIM)

    def forward(self, x, freqs):
        b, s, _ = x.shape
        hd = HD
        h = self.attention_norm(x)
        q = self.wq(h).view(b, s, HEADS, hd)
        k = self.wk(h).view(b, s, KV_HEADS, hd)
        v = self.wv(h).view(b, s, KV_HEADS, hd)
        q, k = rotary(q, k, freqs)
        rep = HEADS // KV_HEADS
        k = k[:, :, :, None, :].expand(b, s, KV_HEADS, rep, hd).reshape(b, s, HEADS, hd)
        v = v[:, :, :, None, :].expand(b, s, KV_HEADS, rep, hd).reshape(b, s, HEADS, hd)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        x = x + self.wo(o.transpose(1, 2).reshape(b, s, HEADS * hd))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


def measure(compiled):
    torch.manual_seed(0)
    blocks = nn.ModuleList(Block() for _ in range(LAYERS)).cuda().to(torch.bfloat16)
    hd = HD
    inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device="cuda").float() / hd))
    freqs = torch.polar(torch.ones(SEQ, hd // 2, device="cuda"), torch.outer(torch.arange(SEQ, device="cuda"), inv))
    x = torch.randn(BATCH, SEQ, DIM, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    grad = torch.randn_like(x)

    def run(h):
        for blk in blocks:
            h = blk(h, freqs)
        return h

    step = torch.compile(run) if compiled else run

    def once():
        step(x).backward(grad)

    for _ in range(3):  # compile first: sustained's warm-up is timed by the clock
        once()
    seconds, sampled = sustained(once)
    return {"execution": "fused" if compiled else "eager", "layer_forward_backward_s": seconds / LAYERS, **sampled}


def main():
    global HEADS, KV_HEADS, FFN, BATCH
    options = dict(a.split("=") for a in sys.argv[2:] if "=" in a)
    Linear.fp8 = "fp8" in sys.argv[2:]
    tp = int(options.get("tp", 1))
    HEADS, KV_HEADS, FFN, BATCH = HEADS // tp, max(1, KV_HEADS // tp), FFN // tp, int(options.get("batch", BATCH))
    p = torch.cuda.get_device_properties(0)
    profile = {"device": p.name, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d", time.gmtime()),
               "model": {"hidden_size": DIM, "num_attention_heads": HEADS * tp, "num_key_value_heads": KV_HEADS * tp,
                         "intermediate_size": FFN * tp, "tp": tp, "batch": BATCH, "seq_length": SEQ,
                         "layers_timed": LAYERS},
               "attention": "sdpa flash (FlashAttention-2)", "precision": "fp8" if Linear.fp8 else "bf16",
               "fp8_recipe": "tensorwise (dynamic, weights cast every forward)" if Linear.fp8 else None,
               "recompute": "none"}
    if NVML is not None:
        profile["power_limit_w"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(NVML) / 1000.0
    from torch.nn.attention import SDPBackend, sdpa_kernel

    profile["runs"] = []
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        for compiled in (False, True):
            try:
                r = measure(compiled)
            except Exception as e:  # noqa: BLE001  (a compiler failure is recorded, the eager figure kept)
                r = {"execution": "fused" if compiled else "eager", "error": str(e).splitlines()[0][:300]}
            profile["runs"].append(r)
            print(json.dumps(r), flush=True)
    with open(sys.argv[1], "w") as f:
        json.dump(profile, f, indent=1)


if __name__ == "__main__":
    main()
