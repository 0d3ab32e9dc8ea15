"""Use cases of the participant's journey, over the record repository and the blob store.

Thin on purpose: the rules live in ``records``, ``nik``, ``contact`` and ``documents``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from videocall.clock import Clock
from videocall.contact import normalise_email, normalise_mobile
from videocall.documents import DocumentRules, clean_image
from videocall.nik import Sex, mask_nik, parse_nik
from videocall.ports import BlobStore, CpuPool, RecordRepository, StoredDocument
from videocall.records import DocumentKind, Record, new_record
from videocall.workdays import WorkCalendar

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Registration:
    nik: str
    mobile: str
    email: str


class RecordService:
    def __init__(
        self,
        records: RecordRepository,
        blobs: BlobStore,
        clock: Clock,
        calendar: WorkCalendar,
        document_rules: DocumentRules,
        cpu: CpuPool,
    ) -> None:
        self.records = records
        self.blobs = blobs
        self.clock = clock
        self.calendar = calendar
        self.document_rules = document_rules
        self.cpu = cpu
        # Files being written for a row not yet committed, by sha256: never deleted meanwhile.
        self._writing: Counter[str] = Counter()

    async def register(self, reg: Registration, *, actor: str) -> Record:
        now = self.clock.now()
        info = parse_nik(reg.nik, today=now.astimezone(self.calendar.tz).date())
        record = new_record(
            nik=info,
            mobile=normalise_mobile(reg.mobile),
            email=normalise_email(reg.email),
            actor=actor,
            now=now,
        )
        await self.records.add(record)
        logger.info("registered record %s nik=%s", record.id, mask_nik(record.nik))
        return record

    async def set_profile(
        self, record_id: str, *, full_name: str, birth_date: date, sex: Sex, actor: str
    ) -> Record:
        async with self.records.edit(record_id) as record:
            record.set_profile(
                full_name=full_name,
                birth_date=birth_date,
                sex=sex,
                actor=actor,
                now=self.clock.now(),
            )
        return record

    async def upload_document(
        self, record_id: str, kind: DocumentKind, data: bytes, *, actor: str
    ) -> StoredDocument:
        """Validate, clean and store a photo; replaces an earlier one of the same kind.

        The image work runs in the CPU pool. The file is written just before its row is stored
        and deleted again if the row does not commit; what a crash leaves between the two is
        removed by the retention job's orphan sweep."""
        current = await self.records.get(record_id)
        # Fail on the state before doing the (costly) image work.
        probe = Record(**{**current.__dict__, "pending_history": [], "pending_events": []})
        probe.add_document(kind, actor=actor, now=self.clock.now(), sha256="0" * 64)
        image = await self.cpu.run(clean_image, data, self.document_rules)
        now = self.clock.now()
        doc = StoredDocument(
            record_id=record_id,
            kind=kind,
            sha256=image.sha256,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            size_bytes=len(image.data),
            metrics=image.metrics.as_dict(),
            verdicts=list(image.verdicts),
            uploaded_at=now,
        )
        self._writing[image.sha256] += 1
        try:
            await self.blobs.put(image.sha256, image.data)
            replaced = await self.records.put_document(
                record_id,
                doc,
                lambda r: r.add_document(kind, actor=actor, now=now, sha256=image.sha256),
            )
        except Exception:
            self._done_writing(image.sha256)
            await self._discard(image.sha256)
            raise
        self._done_writing(image.sha256)
        if replaced:
            await self._discard(replaced)
        return doc

    def _done_writing(self, sha256: str) -> None:
        self._writing[sha256] -= 1
        if self._writing[sha256] <= 0:
            del self._writing[sha256]

    async def _discard(self, sha256: str) -> None:
        """Delete a photo file unless a row references it or an upload is writing it."""
        if sha256 in self._writing or await self.records.document_in_use(sha256):
            return
        await self.blobs.delete(sha256)

    async def give_consent(self, record_id: str, *, actor: str) -> Record:
        async with self.records.edit(record_id) as record:
            record.give_consent(actor=actor, now=self.clock.now())
        return record

    async def note(
        self, record_id: str, action: str, *, actor: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Audit a read or another action that does not change the record."""
        await self.records.append_note(
            record_id, action, actor=actor, now=self.clock.now(), detail=detail
        )
