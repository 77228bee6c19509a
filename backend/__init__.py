"""Gradlab playground server: Flask + Flask-SocketIO app factory (``backend.app.create_app``),
REST API, storage, kernels and realtime handlers.  ``python -m backend`` serves it."""
__version__ = "0.1.0"
