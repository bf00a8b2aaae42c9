"""PyTorch peer of `deno task bench` (bench/bench.ts runs it as a subprocess).

Usage: torch_peer.py probe
       torch_peer.py run JOB.json

`probe` prints one JSON object, PyTorch's version and the BLAS library its
products run on, and exits 0 when `import torch` works. `run`
reads a job written by bench.ts: the data files (float32 images, uint8
labels, uint32 row orders, all little-endian, in /tmp), the thread count and
the workloads. It trains the same networks on the same minibatches as ours,
timing the same window: whole epochs of every per-batch step (gather the rows,
forward, loss, backward, update, and read back the loss and the rows it got
right), samples/s from the median epoch after the first; and the same matrix
products (GFLOP/s). It prints one JSON object on stdout.

OpenBLAS picks its kernels from OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE at load
time; where they are set (this machine pins Haswell), the peer starts itself
again without them, so OpenBLAS may use AVX-512, and with glibc's allocator
told to keep freed memory (ALLOCATOR): PyTorch's best, not its worst.
"""

import ctypes
import json
import os
import re
import statistics
import sys
import time

PINNED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# glibc hands each tensor over 128 KiB fresh pages from mmap and returns them on free, so every
# step of eager PyTorch page-faults its temporaries anew; on our VMs a fault costs enough to make
# the 784-800-10 Adam step 7x slower (21 ms against 3 ms). Keeping freed memory in the heap is
# PyTorch's best setting, as a jemalloc or tcmalloc preload would be.
ALLOCATOR = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 32),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 32),
    "MALLOC_TOP_PAD_": str(1 << 28),
}

if any(name in os.environ for name in PINNED) or any(
    os.environ.get(name) != value for name, value in ALLOCATOR.items()
):
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    env.update(ALLOCATOR)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402
import torch  # noqa: E402


def blas_in_use():
    """The BLAS that torch.mm runs on, named as the library names itself where it can.

    Debian builds PyTorch against the generic libblas.so.3, which is whichever BLAS the system's
    alternatives point at: OpenBLAS where libopenblas0-pthread is installed, else the reference
    BLAS, some 15 times slower on our products. So read what this process has mapped.
    """
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))
    paths = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path)
                if path.startswith("/") and ("blas" in name or "mkl" in name or "blis" in name):
                    paths.add(os.path.realpath(path))
    except OSError:
        pass  # no /proc (not Linux): fall back on what PyTorch was built with
    for path in sorted(paths):
        try:
            config = ctypes.CDLL(path).openblas_get_config
        except (OSError, AttributeError):
            continue
        config.restype = ctypes.c_char_p
        return config().decode()
    if paths:
        return " ".join(sorted(paths))
    info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return f"BLAS_INFO={info.group(1)}" if info else "unknown"


def probe():
    print(json.dumps({"version": torch.__version__, "blas": blas_in_use()}))


def load(images_path, labels_path, width):
    """The images (N, width) and labels (N) bench.ts wrote, as tensors."""
    images = np.fromfile(images_path, dtype="<f4").reshape(-1, width)
    labels = np.fromfile(labels_path, dtype="u1").astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


def per_call(f, seconds):
    """Seconds per call of f, after two warm-up calls, over at least `seconds`."""
    f()
    f()
    calls = 0
    started = time.perf_counter()
    while True:
        f()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls


def matmul(shape, seconds):
    """GFLOP/s of torch.mm on (m, k)·(k, n), operands stored as the flags say."""
    m, n, k, trans_a, trans_b = shape
    generator = torch.Generator().manual_seed(1)
    a = torch.rand((k, m) if trans_a else (m, k), generator=generator) * 2 - 1
    b = torch.rand((n, k) if trans_b else (k, n), generator=generator) * 2 - 1
    a = a.t() if trans_a else a
    b = b.t() if trans_b else b
    c = torch.empty(m, n)
    return 2 * m * n * k / per_call(lambda: torch.mm(a, b, out=c), seconds) / 1e9


def train(workload, images, labels):
    """Samples/s of the median epoch after the first, training as `workload` says."""
    torch.manual_seed(workload["seed"])
    width, hidden, classes = workload["sizes"]
    first = torch.nn.Linear(width, hidden)
    second = torch.nn.Linear(hidden, classes)
    if workload["init"] == "uniform":
        for layer in (first, second):
            torch.nn.init.uniform_(layer.weight, -1, 1)
            torch.nn.init.uniform_(layer.bias, -1, 1)
    activation = torch.sigmoid if workload["activation"] == "sigmoid" else torch.relu
    parameters = [*first.parameters(), *second.parameters()]
    # foreach: one multi-tensor kernel per step. With ALLOCATOR it is no faster than Debian's
    # default per-tensor loop (0.67 against 0.64 ms on 784-800-10); without it, that loop's fresh
    # temporaries page-fault to 17 ms a step, so foreach keeps the peer fast either way.
    if workload["optimizer"] == "adam":
        optimizer = torch.optim.Adam(parameters, lr=workload["eta"], foreach=True)
    else:
        # The penalty λ/2·Σw² enters the gradient as λ·w, on the weights only.
        optimizer = torch.optim.SGD(
            [
                {"params": [first.weight, second.weight], "weight_decay": workload["l2"]},
                {"params": [first.bias, second.bias], "weight_decay": 0},
            ],
            lr=workload["eta"],
            momentum=workload["momentum"],
            foreach=True,
        )
    reduction = workload["reduction"]
    orders = np.fromfile(workload["orders"], dtype="<u4").reshape(workload["epochs"], -1)
    starts = workload["starts"]
    eye = torch.eye(classes)
    seconds = []
    for epoch in range(workload["epochs"]):
        order = torch.from_numpy(orders[epoch].astype(np.int64))
        started = time.perf_counter()
        loss_sum = 0.0
        correct = 0
        for b in range(len(starts) - 1):
            rows = order[starts[b]:starts[b + 1]]
            x = images.index_select(0, rows)
            y = labels.index_select(0, rows)
            scores = second(activation(first(x)))
            if workload["output"] == "softmax":
                loss = torch.nn.functional.cross_entropy(scores, y, reduction=reduction)
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    scores, eye.index_select(0, y), reduction=reduction
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            correct += int((scores.argmax(1) == y).sum())
        seconds.append(time.perf_counter() - started)
    rows_per_epoch = starts[-1] - starts[0]
    median = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    return rows_per_epoch / median


def run(path):
    with open(path) as file:
        job = json.load(file)
    torch.set_num_threads(job["threads"])
    # Denormals flushed, as our activations flush them: the peer's fastest setting.
    torch.set_flush_denormal(True)
    result = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "matmul": [matmul(shape, job["matmulSeconds"]) for shape in job["matmul"]],
        "train": [],
    }
    images, labels = {}, {}
    for workload in job["train"]:
        key = workload["images"]
        if key not in images:
            images[key], labels[key] = load(key, workload["labels"], workload["sizes"][0])
        result["train"].append(train(workload, images[key], labels[key]))
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "probe":
        probe()
    elif len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        sys.exit("usage: torch_peer.py probe | torch_peer.py run JOB.json")
