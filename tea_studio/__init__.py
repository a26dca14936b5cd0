"""TEA Studio: design, run and debug The Edge Agent (TEA) YAML workflows."""

__version__ = "0.1.0"
