"""Type stubs of the compiled kernel (private: use the isoinit package)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

def build_info() -> dict[str, Any]: ...
def max_threads() -> int: ...
def constants() -> dict[str, Any]: ...
def metric_names() -> list[str]: ...
def gram(x: NDArray[np.float64]) -> NDArray[np.float64]: ...
def gram_metrics(grams: NDArray[np.float64]) -> NDArray[np.float64]: ...
def gram_metrics_extremes(grams: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def standard_normal(seed: int, run: int, layer: int, count: int) -> NDArray[np.float64]: ...
def uniform(seed: int, run: int, layer: int, count: int) -> NDArray[np.float64]: ...
def _normal_paths() -> list[str]: ...
def _fill_normal_path(out: NDArray[np.float64], seed: int, run: int, layer: int, path: str, start: int = 0) -> None: ...
def activation_names() -> list[str]: ...
def exact_activations() -> list[str]: ...
def degenerate_batch(x0: NDArray[np.float64], degeneracy: float) -> NDArray[np.float64]: ...
def activation_apply(name: str, param: float, coeffs: list[float], x: NDArray[np.float64]) -> NDArray[np.float64]: ...

class BlockSpec:
    """One block of a network (isoinit.blocks)."""

    def __init__(
        self,
        kind: str,
        position: str = ...,
        center: str = ...,
        scale: str = ...,
        eps: float = ...,
        residual: bool = ...,
        alpha: float = ...,
        ratio: float = ...,
        one_layer: bool = ...,
        heads: int = ...,
        causal: bool = ...,
        final_norm: bool = ...,
        skip: float = ...,
        qk_gain: float = ...,
        out_proj: bool = ...,
        centred: bool = ...,
        score: str = ...,
        rope_base: float = ...,
        gated: bool = ...,
        bias_qk: float = ...,
        bias_v: float = ...,
        bias_out: float = ...,
        bias_mlp: float = ...,
    ) -> None: ...

class Config:
    """One network configuration of the kernel (option names checked on construction, the rest per call)."""

    def __init__(
        self,
        activation: str,
        act_param: float = ...,
        coeffs: list[float] = ...,
        center: str = ...,
        scale: str = ...,
        order: str = ...,
        weights: str = ...,
        sampler: str = ...,
        gain: float = ...,
        bias: float = ...,
        eps: float = ...,
        *,
        widths: list[int],
        mf_center: list[float] = ...,
        mf_scale: list[float] = ...,
        stages: bool = ...,
        grams: bool = ...,
        blocks: list[BlockSpec] = ...,
        init: str = ...,
        dtype: str = ...,
        metrics: list[str] | None = ...,
        input_rows: bool = ...,
        position_std: float = ...,
        shared_std: float = ...,
        max_positions: int = ...,
        input_center: str = ...,
        input_scale: str = ...,
        input_eps: float = ...,
    ) -> None: ...
    @property
    def depth(self) -> int: ...
    @property
    def stage_names(self) -> list[str]: ...
    @property
    def maps(self) -> int: ...
    @property
    def block_stages(self) -> list[list[int]]: ...
    def map_shapes(self, d0: int) -> list[tuple[int, int]]: ...
    def map_names(self, d0: int) -> list[tuple[int, str]]: ...
    def gram_refusal(self, n: int, d0: int) -> str | None: ...
    sampler: str
    @property
    def stages(self) -> bool: ...
    @property
    def grams(self) -> bool: ...
    @property
    def metrics(self) -> list[str]: ...

def simulate(
    x: NDArray[np.float64], seed: int, run_offset: int, runs: int, threads: int, config: Config
) -> dict[str, Any]: ...
def forward(
    x: NDArray[np.float64], w_list: list[NDArray[np.float64]], b_list: list[NDArray[np.float64]], config: Config
) -> dict[str, Any]: ...
def check_memory(config: Config, n: int, d0: int, runs: int, threads: int) -> None: ...
def network_weights(
    d0: int, seed: int, run: int, config: Config
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]: ...
