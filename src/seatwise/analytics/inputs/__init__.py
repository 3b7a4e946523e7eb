"""The impure edge of analytics: loaders that read stored facts as plain values, one module per
view. Nothing else in `analytics` opens a session.
"""
