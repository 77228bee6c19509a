"""Functional recurrent kernels shared by the RNN/LSTM/GRU modules and their cells."""
__all__ = []
