"""Side-by-side benchmark of kernel_gateway against jupyter-kernel-gateway 3.0.1."""
