"""Speech2Video core library: pose contract, body models, audio features, motion and rendering.

Pure numpy/torch; never imports ray, grpc, mlflow, ``services`` or ``pipelines``.
"""

__version__ = "0.1.0"
