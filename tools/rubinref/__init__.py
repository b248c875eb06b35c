"""Read the Rubin tasks stackclub.pipe mirrors from their source at a tag (``tools/rubin_reference.py``)."""
