"""The fast path: notebook-http requests as comm messages to a runner inside IPython kernels."""
