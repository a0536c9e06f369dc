"""kernel_gateway: Jupyter kernels served over HTTP and websockets."""

from ._version import __version__

__all__ = ["__version__"]
