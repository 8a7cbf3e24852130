"""DVC pipeline stages, one module per stage; training stages log to MLflow."""
