"""``torch.onnx``: export of a traced graph through the ``onnx`` package."""
