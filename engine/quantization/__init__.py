"""``torch.quantization`` / ``torch.ao.quantization``: dynamic int8 quantization.

``quantize_dynamic`` swaps ``nn.Linear`` (and ``nn.LSTM``) submodules for dynamically quantized
ones whose numerics follow PyTorch's fbgemm kernels; quantized tensors come from
``engine.quantize_per_tensor`` / ``engine.quantize_per_channel``.  ``weight_bytes(model)`` (not a
PyTorch API) reports the bytes of a model's state_dict tensors.
"""
from ._qtensor import QTensor, dequantize, quantize_per_channel, quantize_per_tensor  # noqa: F401
from ._observer import (  # noqa: F401
    MinMaxObserver, ObserverBase, PerChannelMinMaxObserver, PlaceholderObserver, QConfig, default_dynamic_qconfig,
    default_dynamic_quant_observer, default_per_channel_weight_observer, default_placeholder_observer,
    default_weight_observer, float16_dynamic_qconfig, float_qparams_weight_only_qconfig, per_channel_dynamic_qconfig,
)
from ._dynamic import (  # noqa: F401
    DynamicQuantizedLinear, DynamicQuantizedLSTM, convert, get_default_dynamic_quant_module_mappings,
    propagate_qconfig_, quantize_dynamic, swap_module, weight_bytes,
)

__all__ = ["quantize_dynamic", "convert", "swap_module", "propagate_qconfig_",
           "get_default_dynamic_quant_module_mappings", "QConfig", "default_dynamic_qconfig",
           "per_channel_dynamic_qconfig", "float16_dynamic_qconfig", "float_qparams_weight_only_qconfig",
           "default_weight_observer", "default_per_channel_weight_observer", "default_placeholder_observer",
           "default_dynamic_quant_observer", "ObserverBase", "MinMaxObserver", "PerChannelMinMaxObserver",
           "PlaceholderObserver", "weight_bytes"]
