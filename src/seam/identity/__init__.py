"""The identity rules of the SPEC, as pure functions over plain data.

Nothing here touches SQL, HTTP, logging or the clock: frozen dataclasses come in, decisions go
out, and `seam.ingest.apply` carries them out against the store.
"""
