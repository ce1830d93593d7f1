"""The control plane: settings, storage, and (next) the HTTP service."""
