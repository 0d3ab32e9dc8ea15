// Step 3 of the participant's journey: the three photos, each checked by the server on upload
// (lighting, sharpness, size) and given a verdict in words; "Lanjut" once all three are there.
import { t } from "./i18n.js";
import { call, imageUrl } from "./api.js";
import { errorText } from "./forms.js";

const KINDS = ["ktp", "selfie_with_ktp", "face"];
const $ = (id) => document.getElementById(id);

function byKind(record) {
  const out = {};
  for (const doc of (record && record.documents) || []) out[doc.kind] = doc;
  return out;
}

function renderVerdict(kind, doc) {
  const box = $(`verdict-${kind}`);
  const card = box.closest(".doc");
  if (!doc) {
    box.textContent = t("documents.not_uploaded");
    card.dataset.status = "pending";
    return;
  }
  if (!doc.verdicts.length) {
    box.textContent = `✓ ${t("documents.verdict_ok")}`;
    card.dataset.status = "ok";
  } else {
    box.textContent = doc.verdicts.map((v) => `⚠ ${t(`verdict.${v}`)}`).join(" · ") + ` — ${t("documents.retake")}`;
    card.dataset.status = "warn";
  }
}

/** Verdicts and thumbnails of what `record` holds. */
export async function render(record) {
  const docs = byKind(record);
  for (const kind of KINDS) {
    renderVerdict(kind, docs[kind]);
    const img = document.querySelector(`.doc[data-kind=${kind}] .thumb`);
    if (docs[kind] && !img.src) {
      try {
        img.src = await imageUrl(`/api/me/documents/${kind}`, { auth: true });
        img.hidden = false;
      } catch {
        /* the thumbnail is a convenience only */
      }
    }
  }
  $("documents-next").disabled = !KINDS.every((k) => docs[k]);
}

async function upload(input, ctx) {
  const kind = input.dataset.kind;
  const file = input.files && input.files[0];
  if (!file) return;
  const box = $(`verdict-${kind}`);
  const card = input.closest(".doc");
  const img = card.querySelector(".thumb");
  $("err-form-documents").hidden = true;
  card.dataset.status = "running";
  box.textContent = t("documents.uploading");
  const form = new FormData();
  form.append("file", file);
  try {
    const doc = await call("PUT", `/api/me/documents/${kind}`, { auth: true, body: form });
    img.src = URL.createObjectURL(file);
    img.hidden = false;
    const record = ctx.record();
    record.documents = [...record.documents.filter((d) => d.kind !== kind), doc];
    renderVerdict(kind, doc);
    $("documents-next").disabled = !KINDS.every((k) => byKind(record)[k]);
  } catch (err) {
    if (ctx.onAuthError(err)) return;
    card.dataset.status = "fail";
    box.textContent = `✗ ${errorText(err)}`;
  } finally {
    input.value = "";
  }
}

/**
 * Wire the step. `ctx`: record() -> the current record; onAuthError(err) -> true when the
 * token no longer works (handled); onNext() -> go on once all three photos are there.
 */
export function setup(ctx) {
  for (const input of document.querySelectorAll(".file-input")) {
    input.addEventListener("change", () => upload(input, ctx));
  }
  $("documents-next").addEventListener("click", () => ctx.onNext());
}
