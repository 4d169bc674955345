"""workforce: a backend for crowd workforce marketplaces that train AI models."""
