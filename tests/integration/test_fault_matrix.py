"""The fault matrix: SIGKILL at every phase of a call x every deployment, real processes.

Phases (one participant each, all caught by the same kill): waiting in the queue; paired before
media; media flowing; hung up before the decision; decision in flight. Deployments: the embedded
default restarted on the same DATA_DIR; PostgreSQL + Redis with two nodes and a fixed NODE_ID
restarted (node TTL longer than the bound: only the new incarnation can recover in time); random
NODE_IDs, the killed node stays dead and the survivor claims it. After the kill each case must
satisfy THE INVARIANT (``tests/fault_invariant.py``) within ``RECOVERY_BOUND_SECONDS`` of a
server being up. ``pytest -k "fault or recover"`` selects these.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
import pytest_asyncio

from tests.conftest import migrated_postgres
from tests.fault_invariant import check_all
from tests.fault_support import DEPLOYMENTS, PHASES, FaultRig
from videocall.adapters.migrate import upgrade

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),  # the first case of a deployment pays for its set-up and checks
    pytest.mark.asyncio(loop_scope="module"),
]
logger = logging.getLogger(__name__)

_MARKS = {
    "embedded": [],
    "fixed_node_id": [pytest.mark.postgres, pytest.mark.redis],
    "random_node_id": [pytest.mark.postgres, pytest.mark.redis],
}


@asynccontextmanager
async def _sqlite(url: str) -> AsyncIterator[str]:
    await asyncio.to_thread(upgrade, url)
    yield url


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=[pytest.param(kind, marks=_MARKS[kind]) for kind in DEPLOYMENTS],
)
async def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultRig]:
    """One deployment, every phase prepared, killed once and (where it has one) restarted."""
    kind = str(request.param)
    workdir = tmp_path_factory.mktemp(f"fault-{kind}")
    database: AbstractAsyncContextManager[str]
    if kind == "embedded":
        data_dir = workdir / "doomed"  # the embedded default: SQLite in DATA_DIR
        data_dir.mkdir()
        database = _sqlite(f"sqlite+aiosqlite:///{(data_dir / 'videocall.db').resolve()}")
    else:
        database = migrated_postgres()
    async with database as url:
        rig = FaultRig(kind, workdir, url)
        try:
            try:
                await rig.start()
                await rig.prepare()
                await rig.kill_and_recover()
            except Exception as exc:
                raise AssertionError(
                    f"{kind}: set-up failed: {exc!r}\ntimeline: {rig.timeline}\n{rig.logs()}"
                ) from exc
            results, outcome = await asyncio.gather(check_all(rig), rig.settle_decision())
            rig.cases["decision"].notes.append(f"decision request: {outcome}")
            rig.results = results
            yield rig
        finally:
            await rig.close()


@pytest.mark.parametrize("phase", PHASES)
async def test_fault_sigkill_then_invariant_within_bound(deployment: FaultRig, phase: str) -> None:
    case, result = deployment.cases[phase], deployment.results[phase]
    if isinstance(result, BaseException):
        raise result
    print(f"{deployment.kind}/{phase}: {case.outcome}, {result:.1f} s after up; {case.notes}")
    print(f"{deployment.kind} timeline: {deployment.timeline}")
