"""Pure views and rules over stored facts: users view, licence positions, activity,
recommendations. Functions here take plain rows and an `as_of`; `inputs.py` is the only module
that reads the database.
"""
