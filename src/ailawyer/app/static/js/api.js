// JSON requests to our own API, with the page's CSRF token on every write.
// The one place that knows both; 401 means the session is gone.

import { leaveForLogin } from "./session.js";

const TIMEOUT_MS = 10000;
// Marks a request the script makes on its own (a refresh after a socket event, a catch-up
// after a reconnect, a poll): it does not extend the session's idle lifetime, only a
// person's requests do (ailawyer/app/web/authentication.py, BACKGROUND_HEADER).
export const BACKGROUND = Object.freeze({ "X-Background": "1" });

export class ApiError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

export async function api(path, { method = "GET", body, background = false } = {}) {
  const headers = { Accept: "application/json", ...(background ? BACKGROUND : {}) };
  if (method !== "GET") headers["x-csrftoken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal: controller.signal,
    });
    const isJson = response.headers.get("content-type")?.includes("application/json");
    const data = isJson ? await response.json() : null;
    if (response.status === 401) leaveForLogin("abgelaufen");
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  } finally {
    clearTimeout(timer);
  }
}
