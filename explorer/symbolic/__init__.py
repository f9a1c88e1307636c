"""The chain rule with sympy: the tree as sympy under guards, both derivations, and the bounded worker pool.

sympy runs only in the worker processes (`python -m explorer.symbolic.worker`), which import neither torch
nor the pool; the server reaches them through explorer.symbolic.client.
"""
