// The API client: JSON in and out, the contract's error shape, and the function key. No UI here: the page
// gives the prompt for a key (setKeyPrompt).
// In Azure every /api/* route but health needs a function key. It is asked for once, when an answer is 401,
// and kept in sessionStorage only (gone with the tab), sent as x-functions-key; locally none is needed.
const KEY = "tas.functionKey";

// `target`: the field or parameter at fault, when the API names one (null otherwise).
export class ApiError extends Error {
  constructor(status, code, message, target = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.target = target;
  }
}

let keyPrompt = async () => null; // until the page sets one, a 401 is an error
let asking = null; // one prompt for every call that met a 401 at the same time

// `ask(refused)` resolves the key a person typed, or null; `refused` says the last key was turned down.
export function setKeyPrompt(ask) {
  keyPrompt = ask;
}

async function functionKey(refused) {
  if (!asking) {
    asking = keyPrompt(refused).then((key) => {
      if (key) sessionStorage.setItem(KEY, key);
      else sessionStorage.removeItem(KEY);
      return key;
    }).finally(() => { asking = null; });
  }
  if (!(await asking)) {
    throw new ApiError(401, "functionKeyNeeded", "The API needs a function key; none was given.");
  }
}

// `accept`: another type to ask for (text/csv); its answer comes back as text.
export async function api(method, path, body, { accept = "application/json" } = {}) {
  for (let attempt = 0; ; attempt++) {
    // X-Requested-With: a change a signed-in browser sends must show it is this page's (no other site can set it).
    const headers = { Accept: accept, "X-Requested-With": "XMLHttpRequest" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers["x-functions-key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", credentials: "same-origin",
      });
    } catch {
      throw new ApiError(0, "unreachable", "The app cannot be reached. Check the connection and try again.");
    }
    if (response.status === 401 && attempt < 3) {
      // Ask only when the key refused is still the current one: another call may have been given a new one.
      if (sessionStorage.getItem(KEY) === key) await functionKey(Boolean(key));
      continue;
    }
    if (response.status === 204) return null;
    if (response.ok && accept !== "application/json") return response.text();
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = data && data.error;
      throw new ApiError(response.status, error ? String(error.code) : "httpError",
        error ? String(error.message) : `The app answered ${response.status}.`,
        error && error.target != null ? String(error.target) : null);
    }
    return data;
  }
}

export const id = (value) => encodeURIComponent(value);
