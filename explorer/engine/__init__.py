"""The engine: the formula language, parsing, the forward and backward passes, and the checks. Torch only.

Imports nothing at package level, so that a module's import costs only what it uses.
"""
