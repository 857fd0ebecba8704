"""Recurrent model builder and training loop (Keras)."""
