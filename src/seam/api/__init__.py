"""HTTP: Starlette routes grouped by resource; each handler parses, calls, renders."""
