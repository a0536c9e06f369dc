"""Kernels: the manager, shared connections, execution and the pool."""
