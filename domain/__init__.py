"""Business core of the remise portal: money, créance, campaign, simulation.

Pure Python on purpose: no web framework, no ORM, so every figure can be
unit-tested without an application.
"""
