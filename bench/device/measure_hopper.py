#!/usr/bin/env python3
"""Measures one Hopper GPU as hpsim's presets describe it, for comparison with the presets' published figures.

Usage: python3 bench/device/measure_hopper.py OUT.json     (needs PyTorch with CUDA; NVML through pynvml if present)

Writes one JSON profile: the device, its driver, power limit and the library versions, then
- gemm: BF16 (torch.matmul, cuBLAS) and FP8 E4M3 with one scale per tensor (torch._scaled_mm, cuBLASLt) on random
  operands, by shape (squares, a reduction-depth sweep at 8192 x 8192, Llama 3 layer shapes), each with the SM clock
  and board power sampled while it ran: the sustained clock under the power limit, per precision;
- attention: causal fused attention, head dim 128, forward and forward + backward, through PyTorch's FlashAttention-2
  and cuDNN backends, by sequence length (FLOPs: 4*b*h*s^2*d/2 forward, 2.5x that backward, FlashAttention's count);
- hbm: a device-to-device copy (bytes read + written per second).
Each figure is a throughput over a sustained window (about 0.4 s after 0.2 s of warm-up), not one launch.
"""
import json
import sys
import threading
import time

import torch

WARMUP_S = 0.2
WINDOW_S = 0.4

try:
    import pynvml

    pynvml.nvmlInit()
    NVML = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
except Exception:  # noqa: BLE001  (no NVML: the figures come without clocks)
    NVML = None


class Sampler:
    """SM clock (MHz) and board power (W) sampled every 5 ms on a thread while a window runs."""

    def __init__(self):
        self.clocks, self.watts, self._stop = [], [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.clocks.append(pynvml.nvmlDeviceGetClockInfo(NVML, pynvml.NVML_CLOCK_SM))
            self.watts.append(pynvml.nvmlDeviceGetPowerUsage(NVML) / 1000.0)
            time.sleep(0.005)

    def __enter__(self):
        if NVML is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if NVML is not None:
            self._thread.join()

    def summary(self):
        if not self.clocks:
            return {}
        tail = len(self.clocks) // 4  # the first quarter: the clock settling after the previous shape
        c, w = self.clocks[tail:] or self.clocks, self.watts[tail:] or self.watts
        return {"sm_clock_mhz": sum(c) / len(c), "power_w": sum(w) / len(w)}


def sustained(fn):
    """Seconds per call of fn over a sustained window, with the clock and power sampled while it ran."""
    torch.cuda.synchronize()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < WARMUP_S:
        fn()
        calls += 1
        if calls % 4 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    per_call = (time.perf_counter() - start) / calls
    n = max(3, int(WINDOW_S / per_call))
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with Sampler() as s:
        begin.record()
        for _ in range(n):
            fn()
        end.record()
        torch.cuda.synchronize()
    return begin.elapsed_time(end) / 1000.0 / n, s.summary()


def gemm_shapes():
    squares = [(d, d, d) for d in (1024, 2048, 4096, 8192, 16384)]
    depth = [(8192, 8192, k) for k in (256, 512, 1024, 2048, 4096, 16384)]
    # Llama 3 70B at tp 8 (8192 tokens): qkv, attention projection, gate+up, down; 8B at tp 1; FBGEMM's two shapes.
    llama = [(8192, 1280, 8192), (8192, 8192, 1024), (8192, 7168, 8192), (8192, 8192, 3584),
             (8192, 6144, 4096), (8192, 28672, 4096), (8192, 4096, 14336), (65536, 8192, 7168), (65536, 3584, 8192)]
    return squares + depth + llama


def measure_gemm(m, n, k, precision):
    a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)  # B as [n, k] row-major: column-major [k, n]
    if precision == "bf16":
        bt = b.t()
        fn = lambda: torch.matmul(a, bt)  # noqa: E731
    else:
        a8, b8 = a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn).t()
        one = torch.ones((), device="cuda", dtype=torch.float32)
        fn = lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)  # noqa: E731
    seconds, sampled = sustained(fn)
    del a, b
    return {"m": m, "n": n, "k": k, "precision": precision, "tflop_per_s": 2.0 * m * n * k / seconds / 1e12, **sampled}


def measure_attention(seq, backend, backward):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    heads, dim = 32, 128
    batch = max(1, 16384 // seq)
    q, k, v = (torch.randn(batch, heads, seq, dim, device="cuda", dtype=torch.bfloat16, requires_grad=backward)
               for _ in range(3))
    kernel = {"flash2": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    grad = torch.randn(batch, heads, seq, dim, device="cuda", dtype=torch.bfloat16)

    def fn():
        with sdpa_kernel(kernel):
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            if backward:
                out.backward(grad)

    seconds, sampled = sustained(fn)
    forward_flops = 4.0 * batch * heads * seq * seq * dim / 2.0
    flops = forward_flops * (3.5 if backward else 1.0)
    return {"kernel": backend, "head_dim": dim, "seq": seq, "batch": batch, "heads": heads, "causal": True,
            "pass": "forward+backward" if backward else "forward", "tflop_per_s": flops / seconds / 1e12, **sampled}


def measure_hbm():
    x = torch.empty(1 << 31, device="cuda", dtype=torch.uint8)  # 2 GiB
    y = torch.empty_like(x)
    seconds, sampled = sustained(lambda: y.copy_(x))
    return {"bytes_per_copy": 2 * x.numel(), "gbyte_per_s": 2 * x.numel() / seconds / 1e9, **sampled}


def main():
    out = sys.argv[1]
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    p = torch.cuda.get_device_properties(0)
    profile = {
        "device": p.name, "sm_count": p.multi_processor_count, "memory_bytes": p.total_memory,
        "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    if NVML is not None:
        profile["driver"] = pynvml.nvmlSystemGetDriverVersion()
        profile["power_limit_w"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(NVML) / 1000.0
        profile["max_sm_clock_mhz"] = pynvml.nvmlDeviceGetMaxClockInfo(NVML, pynvml.NVML_CLOCK_SM)
    profile["hbm"] = measure_hbm()
    print(json.dumps(profile["hbm"]), flush=True)
    profile["gemm"] = []
    for m, n, k in gemm_shapes():
        for precision in ("bf16", "fp8"):
            r = measure_gemm(m, n, k, precision)
            profile["gemm"].append(r)
            print(json.dumps(r), flush=True)
    profile["attention"] = []
    for seq in (1024, 2048, 4096, 8192, 16384):
        for backend in ("flash2", "cudnn"):
            for backward in (False, True):
                try:
                    r = measure_attention(seq, backend, backward)
                except Exception as e:  # noqa: BLE001  (a backend that refuses the shape is recorded as such)
                    r = {"kernel": backend, "seq": seq, "pass": "forward+backward" if backward else "forward",
                         "error": str(e).splitlines()[0][:200]}
                profile["attention"].append(r)
                print(json.dumps(r), flush=True)
    with open(out, "w") as f:
        json.dump(profile, f, indent=1)


if __name__ == "__main__":
    main()
