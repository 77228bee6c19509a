"""``torch.nn.utils.rnn``: packed sequences and padding helpers."""
