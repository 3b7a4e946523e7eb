"""Data shipped with seatwise: Microsoft's product and service-plan table (see skus.py)."""
