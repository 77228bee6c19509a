"""``torch.nn.utils.prune``: pruning by masks kept as buffers and applied by forward pre-hooks."""
