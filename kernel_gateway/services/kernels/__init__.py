"""Kernels: one ManagedKernel per kernel, its events, the manager, pools (docs/architecture.md)."""
