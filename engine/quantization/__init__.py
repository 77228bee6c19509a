"""``torch.quantization`` / ``torch.ao.quantization``: dynamic int8 quantization."""
