"""A simulated Microsoft 365 tenant: Microsoft Graph and the identity platform as an ASGI app.

Deterministic from a seed, served over HTTPS on loopback by `seatwise simulate` or in-process
through `httpx.ASGITransport`. Imports nothing from the rest of seatwise; the product reaches it
only over HTTP, exactly as it reaches Microsoft.
"""

from seatwise.simulator.app import create_app
from seatwise.simulator.faults import FaultPlan, FaultSpecError
from seatwise.simulator.server import serve, write_info_file
from seatwise.simulator.tenant import Options, Tenant

__all__ = [
    "FaultPlan",
    "FaultSpecError",
    "Options",
    "Tenant",
    "create_app",
    "serve",
    "write_info_file",
]
