"""`python -m kernel_gateway` starts the gateway, as `jupyter kernelgateway` does."""

from .gatewayapp import launch_instance

if __name__ == "__main__":
    launch_instance()
