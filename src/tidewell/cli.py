"""The ``tidewell`` command: parse config, start the target's modules, stop on a signal."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from tidewell import __version__
from tidewell.config import help_text, load
from tidewell.util import allocator
from tidewell.util.config_tree import ConfigError
from tidewell.util.logging import configure

log = logging.getLogger("tidewell.main")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "tool":
        from tidewell.tool import main as tool_main

        return tool_main(args[1:])
    try:
        result = load(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.show_help:
        print(help_text())
        return 0
    if result.show_version:
        print(f"tidewell, version {__version__}")
        return 0
    config = result.config
    configure(config.server.log_level, config.server.log_format)
    allocator.configure()  # before any thread starts: each keeps the arena it first got
    try:
        return asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def serve(config: object) -> int:
    """Build and start the configured modules; run until a signal or a module fails.

    The exit code: 0 after a signal, 1 when startup or a module failed.
    """
    from tidewell.modules import build

    try:
        app = await build(config)  # type: ignore[arg-type]
    except ConfigError:
        raise
    except Exception as exc:
        log.error("startup failed", extra={"fields": {"err": f"{type(exc).__name__}: {exc}"}})
        return 1
    app.add_service("allocator", allocator.Trimmer())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.manager.start_all()
    except Exception:  # the manager logged which module failed and why, on one line
        return 1
    _tune_gc()
    _tune_switch_interval()
    log.info(
        "Tidewell started",
        extra={"fields": {"version": __version__, "target": ",".join(app.config.target)}},
    )
    signalled = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(app.manager.failed())
    await asyncio.wait({signalled, failed}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if failed.done():
        # dskit's rule: a failed module stops the process, its orchestrator restarts it.
        log.error("a module failed, shutting down", extra={"fields": {"err": failed.result()}})
        code = 1
    else:
        failed.cancel()
        log.info("shutting down")
    await app.manager.stop_all(timeout_s=app.config.server.graceful_shutdown_timeout)
    log.info("shutdown complete")
    return code


def _tune_gc() -> None:
    """Keep full collections rare and cheap: a head holds millions of long-lived objects.

    Measured on the ingester: default thresholds froze the event loop for
    150-480 ms during catch-up; freezing what startup built and raising the
    young-generation threshold cut the worst pause to ~35 ms.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


SWITCH_INTERVAL_S = 0.0002


def _tune_switch_interval() -> None:
    """Hand the GIL over every 0.2 ms instead of Python's 5 ms.

    The event loop (pushes, ``/ready``, the dispatch of every query) shares the GIL
    with query workers and the ingester's append thread; each time it wakes from
    I/O it waits for the holder's switch interval, several times per request.
    Measured with 30 query loops beside pushes (BENCHMARKS.md, "serving" and
    "Push latency beside queries"): 1 ms cut the loaded push p50 by ~30 % against
    5 ms; 0.2 ms cut it again (24-46 ms vs 45-61 ms at load 8-13), no query rate lost.
    """
    sys.setswitchinterval(SWITCH_INTERVAL_S)
