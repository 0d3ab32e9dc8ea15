// The officer's decision form: checklist, result, reasons and notes; what a refusal means.
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError as showFormError } from "./forms.js";

const $ = (id) => document.getElementById(id);
const lists = { reasons: [], checklist: [] }; // from the server
const REQUIRED_SNAPSHOTS = ["face", "ktp"];

export function snapshotUsable(snap) {
  return !(snap.bad_lighting || snap.blurry || snap.bad);
}

/** The form's decision as the API takes it; null (and the field marked) without a result. */
export function read(el) {
  const result = (el.querySelector("input[name=result]:checked") || {}).value;
  if (!result) {
    showFormError(el, { field: "result", code: "result_required", message: "" });
    return null;
  }
  const checklist = {};
  for (const input of el.querySelectorAll("input[name=checklist]")) checklist[input.value] = input.checked;
  const reasons = [...el.querySelectorAll("input[name=reasons]:checked")].map((i) => i.value);
  return { result, reasons, checklist, notes: el.notes.value };
}

export async function loadReasons() {
  const out = await call("GET", "/api/outcomes/reasons");
  lists.reasons = out.reasons;
  lists.checklist = out.checklist;
  renderChecklist();
  renderReasons();
}

function checkbox(name, value, label) {
  const li = document.createElement("li");
  const lab = document.createElement("label");
  lab.className = "choice";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.name = name;
  input.value = value;
  input.id = `${name}-${value}`;
  const span = document.createElement("span");
  span.textContent = label;
  lab.append(input, span);
  li.append(lab);
  return li;
}

export function renderChecklist() {
  const checked = new Set([...document.querySelectorAll("input[name=checklist]:checked")].map((i) => i.value));
  $("checklist").replaceChildren(...lists.checklist.map((item) => checkbox("checklist", item, t(`checklist.${item}`))));
  for (const input of document.querySelectorAll("input[name=checklist]")) input.checked = checked.has(input.value);
}

export function renderReasons() {
  const result = (document.querySelector("input[name=result]:checked") || {}).value;
  const checked = new Set([...document.querySelectorAll("input[name=reasons]:checked")].map((i) => i.value));
  const fitting = lists.reasons.filter((r) => result && result !== "approved" && r.results.includes(result));
  $("reasons").replaceChildren(
    ...fitting.map((r) => checkbox("reasons", r.code, i18n.has(`reason.${r.code}`) ? t(`reason.${r.code}`) : r.description)),
  );
  for (const input of document.querySelectorAll("input[name=reasons]")) input.checked = checked.has(input.value);
  $("reasons-box").hidden = fitting.length === 0;
}

export function resetForm() {
  const form = $("form-decision");
  form.reset();
  clearErrors(form);
  renderChecklist();
  renderReasons();
  $("decide").disabled = false;
  $("decision-done").hidden = true;
}

/** A refused decision: by its field, and, while the call is live, what to do in the call. */
export function showError(form, err, current) {
  if (err.code === "evidence_missing_snapshots") {
    const have = new Set(current.snapshots.filter(snapshotUsable).map((s) => s.kind));
    const missing = REQUIRED_SNAPSHOTS.filter((k) => !have.has(k)).map((k) => t(`snapshot.${k}`));
    const kinds = (missing.length ? missing : REQUIRED_SNAPSHOTS.map((k) => t(`snapshot.${k}`))).join(" + ");
    const key = current.live && !current.ended ? "decision.missing_snapshots_live" : "decision.missing_snapshots";
    const box = $("err-snapshots");
    box.textContent = `⚠ ${t(key, { kinds })}`;
    box.hidden = false;
    $("snap-face").scrollIntoView({ block: "nearest" });
    return;
  }
  showFormError(form, err, "err-form-decision");
  if (current.live && !current.ended && err.status === 422) {
    // The call goes on: say so, after the field's own message (or the form's).
    const box = $("err-form-decision");
    const own = box.hidden ? "" : `${box.textContent} `;
    box.textContent = `${own}⚠ ${t("decision.still_live")}`;
    box.hidden = false;
  }
}

