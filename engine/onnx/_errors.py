"""Exceptions of ``engine.onnx`` (importable without the ``onnx`` package)."""


class OnnxExporterError(RuntimeError):
    pass


class UnsupportedOperatorError(OnnxExporterError):
    pass
