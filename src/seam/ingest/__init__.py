"""Raw bodies to validated messages, and the durable group-commit write path."""
