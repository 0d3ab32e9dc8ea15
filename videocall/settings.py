"""All settings, from environment variables (or a ``.env`` file), with documented defaults.

One object, built once in ``server.py`` and passed down; nothing reads the environment elsewhere.
See docs/configuration.md for the full list.
"""

from __future__ import annotations

import json
import secrets
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from videocall.handoff import valid_return_url
from videocall.origins import default_origins, origin_of


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return []
        if value.startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # -- server ----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # e.g. https://verify.example.id; derived from host/port when empty
    node_id: str = ""  # a name for this process in a cluster; random when empty
    data_dir: Path = Path("data")
    database_url: str = ""  # default: SQLite file under DATA_DIR
    redis_url: str = ""  # set: Redis queue/presence and Socket.IO manager (scale-out)
    redis_prefix: str = "vc"
    heartbeat_seconds: float = 2.0  # how often a process announces itself and its load
    node_ttl_seconds: float = 10.0  # a process silent this long is dead; its calls end
    drain_seconds: float = 300.0  # on SIGTERM: wait this long for calls in progress to end
    log_json: bool = False
    log_level: str = "INFO"
    shutdown_grace_seconds: float = 30.0

    # -- secrets ---------------------------------------------------------------------------
    # Signing key for participant tokens; old keys still verify (rotation without downtime).
    secret_key: str = ""
    old_secret_keys: CsvList = Field(default_factory=list)
    participant_token_ttl_seconds: int = 30 * 24 * 3600
    officer_session_ttl_seconds: int = 12 * 3600
    # "name:key" pairs for upstream systems (the insurer's backend).
    upstream_api_keys: CsvList = Field(default_factory=list)

    # -- limits ----------------------------------------------------------------------------
    max_json_bytes: int = 64 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024
    min_photo_width: int = 480
    min_photo_height: int = 360
    # Abuse limits per client address, "N/period" ("10/hour", "5/30s"); "off" disables one.
    rate_limit_register: str = "60/hour"
    rate_limit_upload: str = "300/hour"
    rate_limit_login: str = "20/15m"  # failed log-ins only
    rate_limit_socket_events: str = "40/10s"  # Socket.IO events per connection
    trusted_proxy_hops: int = 0  # reverse proxies in front: the client is that far back in XFF

    # -- calendar and service hours --------------------------------------------------------
    timezone: str = "Asia/Jakarta"
    public_holidays: CsvList = Field(default_factory=list)  # ISO dates
    service_hours: str = "mon-fri 08:00-16:00"  # or "always"
    review_working_days: int = 3

    # -- queue and calls -------------------------------------------------------------------
    participant_grace_seconds: float = 60.0
    officer_grace_seconds: float = 20.0
    call_connect_timeout_seconds: float = 90.0  # paired but media never flowed: cancelled
    # An undecided call older than this shows on the supervisor board to decide or release.
    undecided_escalate_seconds: float = 900.0
    # After any fault, every call is live, awaiting a decision or ended within this bound.
    recovery_bound_seconds: float = 30.0

    # -- appointments (docs/appointments.md) -----------------------------------------------
    appointment_slot_minutes: int = Field(default=15, ge=5, le=120)
    appointment_window_days: int = Field(default=14, ge=1, le=90)  # how far ahead one may book
    appointment_early_minutes: int = Field(default=5, ge=0, le=60)  # join this early ...
    appointment_grace_minutes: int = Field(default=15, ge=0, le=120)  # ... this late, then missed
    # A queue estimate above this (or unknown with people ahead): the page offers booking.
    appointment_offer_wait_seconds: float = 1800.0

    # -- media -----------------------------------------------------------------------------
    ice_servers: str = "[]"  # JSON list of RTCIceServer dicts (STUN)
    turn_urls: CsvList = Field(default_factory=list)
    turn_secret: str = ""
    turn_ttl_seconds: int = 3600
    allow_loopback_ice: bool = True
    quality_sample_fps: float = 2.0
    # CPU-heavy work (photos, OCR, faces, hashing) runs in worker processes; 0 = cores - 1 (1..4).
    cpu_pool_workers: int = Field(default=0, ge=0, le=16)
    # Jobs waiting for a worker beyond this are refused with 503 server_busy.
    cpu_pool_queue: int = Field(default=16, ge=1, le=1000)
    # Event-loop lag past this is logged as a warning (and always counted on /metrics).
    loop_lag_warn_seconds: float = 0.1
    # The participant's uplink carries no usable video this long: the call goes on as audio.
    weak_uplink_seconds: float = 10.0
    # An officer offering first waits this long for the participant's video codec.
    codec_wait_seconds: float = 5.0
    # "aiortc-relay": the naive decode/re-encode pipeline, only as a benchmark baseline (bench/)
    media_pipeline: Literal["ours", "aiortc-relay"] = "ours"
    # Files (photos, snapshots, recordings) of final records: deleted this long after the decision.
    retention_rejected_days: float = 90
    retention_active_days: float = 365
    retention_interval_seconds: float = 3600  # how often the retention job looks (0: never)

    # -- outcomes and webhooks -------------------------------------------------------------
    # JSON list: [{"url": "...", "secrets": ["whsec_..."]}]
    webhook_endpoints: str = "[]"
    webhook_max_age_seconds: int = 3 * 24 * 3600
    webhook_backoff_base_seconds: float = 5.0  # first retry after ~base, doubling, jittered
    webhook_backoff_max_seconds: float = 3600.0  # longest wait between two tries
    webhook_timeout_seconds: float = 10.0  # per request; a slower answer counts as a failure
    webhook_poll_seconds: float = 1.0  # how often the worker looks for due deliveries

    # -- web -------------------------------------------------------------------------------
    frame_ancestors: str = "'self'"
    # Origins of our pages (CSRF and Socket.IO checks); default: PUBLIC_URL's, or HOST:PORT's.
    public_origins: CsvList = Field(default_factory=list)
    cookie_secure: bool = False
    metrics_token: str = ""

    # -- the insurer's app (hand-off links, the web view; docs/embedding.md) ---------------
    handoff_ttl_seconds: int = Field(default=600, gt=0, le=3600)  # one-time link lifetime
    app_return_url: str = ""  # "Kembali ke aplikasi": a custom scheme (jkn://...) or https

    @field_validator("app_return_url")
    @classmethod
    def _return_url(cls, value: str) -> str:
        if not valid_return_url(value):
            raise ValueError("APP_RETURN_URL must be a custom scheme or an https URL")
        return value

    @field_validator(
        "old_secret_keys",
        "upstream_api_keys",
        "public_holidays",
        "turn_urls",
        "public_origins",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    # -- derived ---------------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'videocall.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def allowed_origins(self) -> list[str]:
        """``Origin`` values our own pages send (see ``videocall.origins``)."""
        if self.public_origins:
            return [origin_of(o) for o in self.public_origins]
        return default_origins(self.public_url, self.host, self.port)

    @property
    def holidays(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.public_holidays]

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    def api_keys(self) -> dict[str, str]:
        """key -> name of the upstream system that holds it."""
        pairs = (item.split(":", 1) for item in self.upstream_api_keys if ":" in item)
        return {key: name for name, key in pairs}

    def signing_keys(self) -> list[str]:
        """Current key first; a key is generated and kept under DATA_DIR when none is set."""
        if not self.secret_key:
            path = self.data_dir / "secret_key"
            if path.exists():
                self.secret_key = path.read_text().strip()
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self.secret_key = secrets.token_urlsafe(32)
                path.write_text(self.secret_key)
                path.chmod(0o600)
        return [self.secret_key, *self.old_secret_keys]
