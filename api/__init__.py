"""HTTP layer: the app factory, one router per registry, dependencies and error handlers."""
