"""The fleet: durable import jobs on saq and Redis, one throttle per token across workers.

Needs the extra: ``pip install 'groove-async[fleet]'`` (saq with its Redis client). Nothing
else in groove_async imports this package, so the client and the command line run without it.

A job is one user's import (``add`` or ``delete``): its inputs and progress live in Redis, it
names a user (never a token), and a worker resolves the token through a token source. Each
finished batch is recorded at once; a dead worker's job is taken over by another within seconds
and resends only what was in flight. Every worker using one token shares its pause
(:class:`SharedGate`).

The rooms: :mod:`._names` (names, keys, hashes), :mod:`._tokens` (token sources),
:mod:`._gate` (the shared pause), :mod:`._store` (job state in Redis), :mod:`._run` (one run
of a job), :mod:`._worker` (a job's client and terminal state), :mod:`._saq` (the queue: the
only saq importer), :mod:`._api` (:class:`Fleet`).
"""

from __future__ import annotations

from ._api import Fleet, FleetError, UnknownJob
from ._gate import SharedGate
from ._names import check_user, token_hash
from ._store import JobProgress, Record
from ._tokens import DirectoryTokens, TokenSource, TokenUnavailable
from ._worker import DEFAULT_RESULTS_TTL, WorkerOptions

__all__ = [
    "DEFAULT_RESULTS_TTL",
    "DirectoryTokens",
    "Fleet",
    "FleetError",
    "JobProgress",
    "Record",
    "SharedGate",
    "TokenSource",
    "TokenUnavailable",
    "UnknownJob",
    "WorkerOptions",
    "check_user",
    "token_hash",
]
