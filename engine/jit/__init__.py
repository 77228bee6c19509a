"""``torch.jit``: tracing a module into an op graph that replays without its Python code."""
