"""The arguments of the fleet's commands: ``worker``, ``submit``, ``job``, ``jobs``.

``--redis`` defaults to the environment variable ``GROOVE_REDIS_URL``. Nothing here imports the
fleet (saq and redis come with the ``fleet`` extra): :mod:`~groove_async.cli.fleet` does, when a
command runs.
"""

from __future__ import annotations

import argparse
import os
from typing import Final

from groove_async import DEFAULT_BASE_URL

from .arguments import (
    _add_input_argument,
    _add_quiet_option,
    _int_at_least,
    _path,
    _Subparsers,
    _url,
)

REDIS_ENV: Final = "GROOVE_REDIS_URL"
INSTALL_HINT: Final = "the fleet needs its extra: pip install 'groove-async[fleet]'"


def _add_redis_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--redis",
        default=os.environ.get(REDIS_ENV),
        metavar="URL",
        help=f"the Redis URL, e.g. redis://127.0.0.1:6379/0 (default: ${REDIS_ENV})",
    )


def _add_fleet_parsers(subparsers: _Subparsers[argparse.ArgumentParser]) -> None:
    """Declare ``worker``, ``submit``, ``job`` and ``jobs``."""
    worker = subparsers.add_parser(
        "worker",
        help="run fleet jobs from Redis until SIGTERM/SIGINT (needs groove-async[fleet])",
        description=(
            "Take import jobs from Redis and run them, --jobs at a time. Each job names a user; "
            "the user's token is read from DIR/<user> when needed. On SIGTERM or SIGINT the jobs "
            "running are handed back and resumed by another worker; a worker that dies has its "
            "job taken over within seconds."
        ),
    )
    _add_redis_option(worker)
    worker.add_argument(
        "--tokens",
        required=True,
        type=_path,
        metavar="DIR",
        help="a directory with one file per user holding that user's token",
    )
    worker.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        type=_url,
        metavar="URL",
        help="the service root (default: %(default)s)",
    )
    worker.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http --base-url that is not loopback",
    )
    worker.add_argument(
        "--concurrency",
        type=_int_at_least(1, 1000),
        default=8,
        metavar="N",
        help="requests in flight per job (default: %(default)s)",
    )
    worker.add_argument(
        "--jobs",
        type=_int_at_least(1, 1000),
        default=1,
        metavar="N",
        help="jobs run at once (default: %(default)s)",
    )
    worker.add_argument(
        "--heartbeat", type=_int_at_least(1, 3600), default=None, help=argparse.SUPPRESS
    )  # tests: a faster take-over
    worker.add_argument("--local-gate", action="store_true", help=argparse.SUPPRESS)
    submit = subparsers.add_parser(
        "submit",
        help="queue one user's import as a fleet job; prints its ID",
        description=(
            "Read IDs as 'add' does (bad lines become REJECTED INVALID_INPUT results), store them "
            "in Redis as one job of USER's, and print the job's ID alone on stdout. The same "
            "user, action and input submitted while the first job is unfinished gives its ID."
        ),
    )
    submit.add_argument("action", choices=("add", "delete"), help="add or delete")
    _add_input_argument(submit)
    submit.add_argument(
        "--user",
        required=True,
        metavar="NAME",
        help="the user (letters, digits, ._@-); a worker reads its token",
    )
    _add_redis_option(submit)
    submit.add_argument(
        "--heartbeat", type=_int_at_least(1, 3600), default=None, help=argparse.SUPPRESS
    )
    job = subparsers.add_parser(
        "job",
        help="show, follow, cancel a fleet job, or write its results",
        description="A fleet job's status: queued, active, complete, failed or aborted.",
        epilog="Exit status with --wait: as add's (0 all succeeded, 1 not all, 2 failed job).",
    )
    job.add_argument("job_id", metavar="ID", help="the job's ID, as submit printed it")
    _add_redis_option(job)
    job.add_argument("--wait", action="store_true", help="follow the job until it ends")
    job.add_argument("--json", action="store_true", help="print the status as one JSON object")
    job.add_argument(
        "--output",
        type=_path,
        metavar="FILE",
        help="write the results, one JSON line per input ('-' for stdout)",
    )
    job.add_argument("--cancel", action="store_true", help="abort the job")
    _add_quiet_option(job)
    jobs = subparsers.add_parser("jobs", help="list the fleet's jobs and their progress")
    _add_redis_option(jobs)
