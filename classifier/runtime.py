"""The runtime of the backbone's forward pass: torch, or ONNX Runtime on the CPU.

On a 2-core AVX2-only AMD EPYC, at batch 32 and 2 threads, ONNX Runtime ran
the EfficientNet-Lite0 backbone 2.5 to 3 times as fast as torch (fp32,
channels-last), with features at cosine 1.0000 to torch's. So "auto" picks
it for fp32 work on the CPU, and torch everywhere else (CUDA, bf16).

The network is exported to ONNX the first time it runs, which takes about
5 s. The export goes to a temporary file, which is read back and deleted.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from classifier.backbone import Lite0Features

__all__ = ["RUNTIMES", "FeatureExtractor", "OnnxFeatures", "feature_extractor", "resolve_runtime"]

logger = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnxruntime")
# Normalised images (N, 3, size, size) in, pooled features (N, 1280) out.
FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]

_INPUT = "images"
_OUTPUT = "features"
_OPSET = 17


def onnxruntime_available() -> bool:
    """Return whether the onnxruntime package can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_runtime(runtime: str, device: torch.device, precision: str) -> str:
    """Return `runtime`, with "auto" replaced by "onnxruntime" or "torch".

    "auto" is "onnxruntime" for fp32 on the CPU when the package is
    installed, else "torch".

    Raises:
        ValueError: an unknown runtime, or "onnxruntime" requested on a GPU or in bf16,
            which this module does not support.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"invalid runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    cpu_fp32 = device.type == "cpu" and precision == "fp32"
    if runtime == "auto":
        if not cpu_fp32:
            return "torch"
        if not onnxruntime_available():
            logger.warning(
                "onnxruntime is not installed, so the network runs in torch, about three "
                "times slower on the CPU: run `pip install onnxruntime onnx`"
            )
            return "torch"
        return "onnxruntime"
    if runtime == "onnxruntime" and not cpu_fp32:
        raise ValueError(
            f"invalid runtime onnxruntime for {precision} on {device}: it runs fp32 on the "
            "CPU only, so use --runtime torch, or --precision fp32 on the CPU"
        )
    return runtime


class OnnxFeatures:
    """`Lite0Features`'s forward pass, exported to ONNX and run by ONNX Runtime on the CPU.

    Called like the torch module: a normalised float32 batch (N, 3, size, size)
    in, float32 features (N, 1280) out. The network is exported on the first
    call, so a job with nothing to embed never pays for the export. The
    session starts then too, with as many threads as torch uses at that
    moment, so a copy pickled to another process (a Ray worker) follows that
    process's thread setting.
    """

    def __init__(self, network: Lite0Features, *, size: int) -> None:
        self._network: Lite0Features | None = network
        self._size = size
        self._model: bytes | None = None
        self._session: Any = None

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        session = self._session if self._session is not None else self._start()
        batch = inputs.detach().to("cpu", torch.float32).contiguous().numpy()
        (features,) = session.run([_OUTPUT], {_INPUT: batch})
        return torch.from_numpy(features)

    def _exported(self) -> bytes:
        if self._model is None:
            if self._network is None:
                raise RuntimeError("OnnxFeatures has neither a network nor an exported model")
            started = time.perf_counter()
            self._model = _export(self._network, self._size)
            self._network = None
            logger.info(
                "exported the backbone to ONNX for ONNX Runtime in %.1f s",
                time.perf_counter() - started,
            )
        return self._model

    def _start(self) -> Any:
        import onnxruntime

        model = self._exported()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning, which leaves the cores to the
        # decoding threads that run beside the network during indexing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        logger.debug("ONNX Runtime session started with %d threads", torch.get_num_threads())
        return self._session

    def __getstate__(self) -> dict[str, Any]:
        # Copies get the exported model, so Ray workers do not each export it.
        return {"_network": None, "_size": self._size, "_model": self._exported(), "_session": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _export(network: Lite0Features, size: int) -> bytes:
    """Return `network` as an ONNX model with a variable batch size, exported on the CPU."""
    example = torch.zeros(1, 3, size, size)
    with warnings.catch_warnings():
        # The TorchScript-based exporter warns that it is deprecated. It needs
        # only the onnx package, and tests/classifier/test_runtime.py checks
        # its output against torch.
        warnings.simplefilter("ignore")
        with tempfile.TemporaryDirectory(prefix="milliner-onnx-") as scratch:
            path = Path(scratch) / "backbone.onnx"
            torch.onnx.export(
                network.cpu().eval(),
                (example,),
                path,
                input_names=[_INPUT],
                output_names=[_OUTPUT],
                dynamic_axes={_INPUT: {0: "batch"}, _OUTPUT: {0: "batch"}},
                opset_version=_OPSET,
                dynamo=False,
            )
            return path.read_bytes()


def feature_extractor(network: Lite0Features, *, runtime: str, size: int) -> FeatureExtractor:
    """Return what runs `network` in `runtime` ("torch" or "onnxruntime", already resolved)."""
    if runtime == "onnxruntime":
        return OnnxFeatures(network, size=size)
    return network
