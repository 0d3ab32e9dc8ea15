// The JSON API: one fetch wrapper; errors become ApiError {status, code, message, field}.
const TOKEN_KEY = "vc_token";

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

async function parse(response) {
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("application/json") ? await response.json() : null;
  if (!response.ok) {
    const err = (body && body.error) || {};
    throw new ApiError(response.status, err.code || "http_error", err.message || response.statusText, err.field);
  }
  return body;
}

/**
 * Call the API. `options.json` is sent as JSON, `options.body` as is; the participant token is
 * added when `options.auth` is true. A network failure throws ApiError with code "network".
 */
export async function call(method, path, options = {}) {
  const headers = { Accept: "application/json" };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  if (options.auth && token()) headers.Authorization = `Bearer ${token()}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch (exc) {
    throw new ApiError(0, "network", String(exc));
  }
  return parse(response);
}

/** Fetch an image with credentials and return an object URL (for <img>, allowed by the CSP). */
export async function imageUrl(path, { auth = false } = {}) {
  const headers = {};
  if (auth && token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { headers, credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, "image_failed", response.statusText);
  return URL.createObjectURL(await response.blob());
}
