// The officer's large view: a KTP photo, a selfie or a snapshot opened beside the live video, to
// compare a face with the KTP at a useful size (the thumbnails are ~115 px).
import { t } from "./i18n.js";
import { staffImage } from "./staff.js";

const $ = (id) => document.getElementById(id);
let opener = null; // the thumbnail that opened the view, focused again on close

/** Show `src` (or, when given, the full-size `url` fetched with the staff cookie) large. */
export async function openZoom(label, src, url, from) {
  opener = from || null;
  const img = $("zoom-img");
  img.src = src || "";
  img.alt = label;
  $("zoom-caption").textContent = label;
  $("zoom").hidden = false;
  $("zoom").dataset.label = label;
  $("zoom-close").focus({ preventScroll: true });
  if (url) {
    // The thumbnail shows at once; the full picture replaces it when it arrives.
    const full = new Image();
    await staffImage(full, url).then(
      () => {
        if ($("zoom").dataset.label === label) img.src = full.src;
      },
      () => {},
    );
  }
}

export function closeZoom() {
  $("zoom").hidden = true;
  $("zoom-img").removeAttribute("src");
  if (opener) opener.focus({ preventScroll: true });
  opener = null;
}

/** Make `img` open the large view on click, Enter or Space (a real button for keyboards). */
export function zoomable(img, label, fullUrl) {
  img.classList.add("zoomable");
  img.tabIndex = 0;
  img.setAttribute("role", "button");
  img.title = t("ocall.zoom_open");
  const open = () => {
    if (img.getAttribute("src")) openZoom(label(), img.src, fullUrl && fullUrl(), img);
  };
  img.addEventListener("click", open);
  img.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  });
}

export function setupZoom() {
  $("zoom-close").addEventListener("click", closeZoom);
  $("zoom-img").addEventListener("click", closeZoom);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("zoom").hidden) closeZoom();
  });
}
