// The feed of recent changes: GET /api/events newest first (a customer's connection lost, restored, failing for
// another reason, or expiring: which expiry, within which band), filtered by type, paged over continuationToken.
// Text only.
import { api } from "./api.js";
import { $, el, showText } from "./dom.js";
import { expiringText } from "./expiry.js";
import { REASONS, STATUSES, fromNow, label, localTime } from "./format.js";

export const EVENT_TYPES = {
  connectionLost: "Connection lost",
  connectionRestored: "Connection restored",
  reasonChanged: "Reason changed",
  connectionExpiring: "Connection expiring",
};
const TOP = 20;

// A state as the feed shows it: the status, and why when it failed.
function point(state) {
  const words = label(STATUSES, state.status);
  return state.reason ? `${words} (${label(REASONS, state.reason)})` : words;
}

function item(event, onOpen) {
  const who = el("button", { className: "link", text: event.customerId, attrs: { type: "button" } });
  who.addEventListener("click", () => onOpen(event.customerId));
  return el("li", { className: `event event-${event.type}`, attrs: { "data-event-id": event.eventId } },
    el("span", { className: "event-type", text: label(EVENT_TYPES, event.type) }),
    who,
    el("span", { className: "event-change",
      text: expiringText(event) || `${point(event.from)} → ${point(event.to)}` }),
    el("span", { className: "event-when" },
      el("time", { text: localTime(event.at), attrs: { datetime: event.at } }),
      " ",
      el("span", { className: "ago", text: fromNow(event.at), attrs: { "data-ago": event.at } })),
    el("span", { className: "event-source muted", text: event.runId ? `run ${event.runId}` : "verify now or consent" }));
}

export function createEventsFeed({ report, onOpen }) {
  const state = { token: null, type: "" };

  async function list(token) {
    const params = new URLSearchParams({ top: String(TOP) });
    if (state.type) params.set("type", state.type);
    if (token) params.set("continuationToken", token);
    return api("GET", `/api/events?${params}`);
  }

  function show(answer, append) {
    const list = $("events-list");
    if (!append) list.replaceChildren();
    for (const event of answer.events) list.append(item(event, onOpen));
    state.token = answer.continuationToken;
    $("events-more").hidden = !state.token;
    showText($("events-empty"), list.children.length ? "" : "No changes yet.");
  }

  $("events-type").addEventListener("change", () => {
    state.type = $("events-type").value;
    feed.load().catch(report);
  });
  $("events-more").addEventListener("click", () => feed.more().catch(report));

  const feed = {
    async load() {
      show(await list(null), false);
    },
    async more() {
      if (state.token) show(await list(state.token), true);
    },
  };
  return feed;
}
