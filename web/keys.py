"""Typed application keys: what ``create_app`` puts on the app for handlers and namespaces."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from videocall.accounts import LockoutPolicy
from videocall.adapters.files import FileBlobStore
from videocall.adapters.sql_accounts import SqlAccounts
from videocall.adapters.sql_outcomes import SqlOutcomes
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.adapters.sql_sessions import SqlCallSessions
from videocall.app.appointments import AppointmentService
from videocall.app.calls import CallService
from videocall.app.desk import DeskService
from videocall.app.outcomes import OutcomeService
from videocall.assist import AssistService
from videocall.clock import Clock
from videocall.ports import CpuPool
from videocall.service import RecordService
from videocall.settings import Settings
from videocall.tokens import ParticipantTokens
from videocall.workdays import WorkCalendar

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
DATABASE = web.AppKey("database", Database)
RECORDS = web.AppKey("records", SqlRecordRepository)
SESSIONS = web.AppKey("sessions", SqlCallSessions)
ACCOUNTS = web.AppKey("accounts", SqlAccounts)
BLOBS = web.AppKey("blobs", FileBlobStore)
SERVICE = web.AppKey("service", RecordService)
TOKENS = web.AppKey("tokens", ParticipantTokens)
CALENDAR = web.AppKey("calendar", WorkCalendar)
LOCKOUT = web.AppKey("lockout", LockoutPolicy)
# CPU-heavy work (image decode, OCR, face models, encoding): `await app[CPU_POOL].run(fn, *args)`.
CPU_POOL = web.AppKey("cpu_pool", CpuPool)
# The application services, wired by the composition root (``server.py``) at start-up.
DESK = web.AppKey("desk", DeskService)
CALLS = web.AppKey("calls", CallService)
DECISIONS = web.AppKey("decisions", OutcomeService)
OUTCOMES = web.AppKey("outcomes", SqlOutcomes)
# Filled by later parts (signalling, media, outcomes): anything with start()/close().
EXTRAS = web.AppKey("extras", dict[str, Any])
# Officer assist (KTP reading, faces): set by web.assist_api when assist is on.
ASSIST = web.AppKey("assist", AssistService)
# Appointments (issue 16): set by web.appointments_api, used by the desk and the ticker too.
APPOINTMENTS = web.AppKey("appointments", AppointmentService)
