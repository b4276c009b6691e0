"""Oozo's contract between the operator and the runtime: the settings the operator renders and
the runtime reads, the results a runtime Job reports back, and the index manifest.

It depends on pydantic only, so both images import it: the operator never needs the runtime's
torch and FAISS to speak to it."""
