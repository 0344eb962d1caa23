"""The tests' certificate authority: the simulators' own (tools/identity_sim/tls.py), under the name tests use.

Its bundle holds the system CAs too, so pointing REQUESTS_CA_BUNDLE (or connection_verify) at it keeps every real
endpoint trusted while adding the simulators; certificate checks stay on everywhere.
"""
from __future__ import annotations

from tools.identity_sim.tls import SimulatorCA


class TestCA(SimulatorCA):
    __test__ = False  # not a pytest test class, despite the name

