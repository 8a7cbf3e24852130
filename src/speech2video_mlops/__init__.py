"""MLOps: the one package that talks to MLflow (tracking, registry, promotion by alias)."""
