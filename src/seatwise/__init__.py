"""seatwise: a self-hosted SaaS-licence manager for Microsoft 365."""

__version__ = "0.1.0"
__all__ = ["__version__"]
