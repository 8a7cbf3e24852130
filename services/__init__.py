"""Ray Serve applications, one per stage, plus the gateway (gRPC)."""
