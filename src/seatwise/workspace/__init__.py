"""The application layer: what the front ends (`cli`, `web`, `worker`) share. A `Workspace` is
opened from `Settings` and holds the database engine, the secret box and the Graph clients of
stored tenants; the modules beside it hold the use cases (register and supersede tenants, sync a
tenant, plan jobs, contract edits, schedules), each one function the front ends call.

Imports `sync`, `analytics`, `reclaim`, `graph`, `store`; renders nothing, reads no input.
"""

from seatwise.workspace.core import Workspace

__all__ = ["Workspace"]
