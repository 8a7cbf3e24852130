"""``s2v serve up [--config FILE] | status | down``: every Serve application on a local Ray."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from speech2video_cli import framework_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the gRPC services (local Ray Serve)",
        description="up: start a local Ray and Serve with every application of the serve config "
        "(default infra/serve/serve_config.yaml) and stay in the foreground until Ctrl-C or "
        "`s2v serve down`; status: show the applications of the running Serve; down: shut "
        "Serve down. Models come from the registry ($MLFLOW_TRACKING_URI or $S2V_HOME).",
    )
    action = p.add_subparsers(dest="serve_action", required=True)
    up = action.add_parser("up", help="start Ray and every application (foreground)")
    up.add_argument("--config", type=Path, default=None, help="serve config YAML")
    up.add_argument("--grpc-port", type=int, default=None, help="override grpc_options.port")
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface the gRPC and HTTP proxies listen on (default 127.0.0.1; 0.0.0.0: all)",
    )
    up.add_argument("--num-cpus", type=float, default=None, help="CPUs for the local Ray")
    up.add_argument(
        "--renderer-gpus",
        type=float,
        default=None,
        help="GPUs per renderer replica (default: 1 when this machine has a CUDA GPU, else 0)",
    )
    up.add_argument(
        "--verbose", action="store_true", help="show Ray's and Serve's logs in the terminal"
    )
    action.add_parser("status", help="applications and their status")
    action.add_parser("down", help="shut Serve down")
    p.set_defaults(func=run)


def _connect() -> bool:
    import ray

    try:
        ray.init(address="auto", namespace="serve", logging_level="ERROR")
    except ConnectionError:
        print("no running Ray cluster found (start one with `s2v serve up`)")
        return False
    return True


def _serve_up(args: argparse.Namespace, terminal: framework_output.Terminal) -> int:
    from services import deploy
    from speech2video.errors import S2VError

    gpus = deploy.local_renderer_gpus() if args.renderer_gpus is None else args.renderer_gpus
    config = deploy.prepare_config(
        deploy.load_config(args.config), args.grpc_port, host=args.host, renderer_gpus=gpus
    )
    try:
        target = deploy.start(config, num_cpus=args.num_cpus, verbose=args.verbose)
    except RuntimeError as exc:
        deploy.shutdown()
        raise S2VError(f"the services did not come up: {exc}") from None
    print(f"serving gRPC on {target} (Ctrl-C or `s2v serve down` to stop)", file=terminal.out)
    from services.metrics import metrics_url

    if url := metrics_url():
        print(f"metrics (Prometheus): {url}", file=terminal.out)
    terminal.out.flush()
    try:
        from ray import serve

        while serve.status().applications:
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        deploy.shutdown()
    return 0


def run(args: argparse.Namespace) -> int:
    if args.serve_action == "up":
        if args.verbose:
            return _serve_up(args, framework_output.standard())
        log = framework_output.log_path("serve")
        print(f"framework logs: {log}", flush=True)
        with framework_output.to_file(log) as terminal:
            return _serve_up(args, terminal)
    if not _connect():
        return 1
    from ray import serve

    if args.serve_action == "status":
        apps = serve.status().applications
        for name, app in sorted(apps.items()):
            print(f"{name:14s} {app.status}")
        if not apps:
            print("no applications")
        return 0
    serve.shutdown()
    print("Serve shut down")
    return 0
