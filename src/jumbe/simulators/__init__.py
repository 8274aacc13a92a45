"""Stand-ins for the outside world (carriers) that Jumbe talks to, for tests and demos."""

from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator, Submission

__all__ = ["CarrierBehaviour", "CarrierSimulator", "Submission"]
