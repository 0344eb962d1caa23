// Foresight on the page: the "Expires" cell of a customer (relative, coloured by warning band, or why it is not
// known), the provider's client secret line and the expiring counts of the summary, the connectionExpiring events in
// words, and the bulk consent export (Grant Consent links for every password customer or for the customers the table
// shows, as CSV or JSON). Text only, never HTML.
import { api } from "./api.js";
import { $, el, showText } from "./dom.js";
import { fromNow, localTime } from "./format.js";

export const BANDS = [1, 7, 14, 30]; // days, narrowest first: the API's warning bands
const DAY_MS = 86400000;

const WHAT = {
  clientSecret: "Client secret",
  providerClientSecret: "Provider's client secret",
  refreshTokenInactivity: "Refresh token (90 days unused)",
  gdapRelationship: "Delegated admin relationship",
};
const SOURCES = { graph: "from Microsoft Graph", operator: "as given", computed: "computed" };

// The band a time to failure is in: "expired", "band-1" ... "band-30", or "" beyond 30 days.
export function bandOf(iso, now = Date.now()) {
  const left = new Date(iso).getTime() - now;
  if (Number.isNaN(left)) return "";
  if (left <= 0) return "expired";
  const band = BANDS.find((days) => left <= days * DAY_MS);
  return band ? `band-${band}` : "";
}

// A connectionExpiring event in words: "Client secret expires within 7 days, on <local time> (from Microsoft Graph)";
// null for an event recorded before events named their expiry.
export function expiringText(event) {
  if (!event.expiry) return null;
  const what = WHAT[event.expiry.what] || event.expiry.what;
  const days = event.withinDays ? ` within ${event.withinDays} ${event.withinDays === 1 ? "day" : "days"},` : "";
  const source = SOURCES[event.expiry.source] || event.expiry.source;
  return `${what} expires${days} on ${localTime(event.expiry.at)} (${source})`;
}

function expiryText(expiry) {
  return `${WHAT[expiry.what] || expiry.what} ${SOURCES[expiry.source] || expiry.source}: ${localTime(expiry.at)}`;
}

export function expiresCell(view) {
  const cell = el("td", { className: "expires", attrs: { "data-label": "Expires" } });
  if (view.expiry) {
    const band = bandOf(view.expiry.at);
    const when = band === "expired" ? `expired ${fromNow(view.expiry.at)}` : fromNow(view.expiry.at);
    cell.append(el("span", { className: `expiry ${band}`.trim(), text: when,
      attrs: { title: expiryText(view.expiry), "data-band": band || "none" } }));
  } else {
    cell.append(el("span", { className: "expiry", text: view.expiryUnknown && view.expiryUnknown.length
      ? "Unknown" : "No known expiry", attrs: { "data-band": "none" } }));
  }
  for (const unknown of view.expiryUnknown || []) {
    cell.append(el("p", { className: "expiry-unknown",
      text: `${WHAT[unknown.what] || unknown.what}: not known (${unknown.message})` }));
  }
  if (view.retirement) cell.append(el("p", { className: "retirement", text: view.retirement.message }));
  return cell;
}

export function renderForesight(summary) {
  const line = $("provider-secret");
  const part = summary.providerClientSecret;
  if (summary.expiring) {
    $("count-expiring-7").textContent = String(summary.expiring.within7Days);
    $("count-expiring-30").textContent = String(summary.expiring.within30Days);
  }
  line.hidden = part === undefined;
  if (!part) {
    line.textContent = "Provider's client secret: no expiry known (none configured, or it never expires).";
    line.className = "provider-secret";
  } else if (part.reason) {
    line.textContent = `Provider's client secret: expiry not known (${part.message})`;
    line.className = "provider-secret";
  } else {
    line.textContent = `Provider's client secret expires ${fromNow(part.at)} (${localTime(part.at)}, ` +
      `${SOURCES[part.source] || part.source}); every password and token customer depends on it.`;
    line.className = `provider-secret ${bandOf(part.at)}`.trim();
  }
}

const BULK_LIMIT = 200; // customers per POST /api/consent
const FORMATS = { csv: "text/csv", json: "application/json" };

function download(text, format) {
  const url = URL.createObjectURL(new Blob([text], { type: FORMATS[format] }));
  const link = el("a", { attrs: { href: url, download: `consent-links.${format}` } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// The links of `ids`, BULK_LIMIT a request, as one CSV (one header) or one JSON document, in the order given.
async function linksOf(ids, format) {
  const parts = [];
  for (let start = 0; start < ids.length; start += BULK_LIMIT) {
    parts.push(await api("POST", "/api/consent", { customerIds: ids.slice(start, start + BULK_LIMIT) },
      { accept: FORMATS[format] }));
  }
  if (format === "json") return JSON.stringify({ links: parts.flatMap((part) => part.links) }, null, 2);
  // The header is the first line of each part (no cell of it is quoted): keep the first part's only.
  return parts.map((csv, n) => (n ? csv.slice(csv.indexOf("\r\n") + 2) : csv)).join("");
}

// Downloads Grant Consent links (the API makes each CSV cell safe to open in a spreadsheet): for every password
// customer, or for the customers `shownIds()` names (those the table shows: its filters and search).
export async function exportConsentLinks({ scope, format, shownIds }) {
  let answer;
  if (scope === "shown") {
    const ids = shownIds();
    if (!ids.length) {
      showText($("export-state"), "No customers are shown: nothing to export.");
      return;
    }
    answer = { text: await linksOf(ids, format), rows: ids.length }; // a row per customer asked for
  } else {
    const body = await api("POST", "/api/consent", { allPasswordCustomers: true }, { accept: FORMATS[format] });
    answer = format === "json" ? { text: JSON.stringify(body, null, 2), rows: body.links.length }
      : { text: body, rows: Math.max(body.trim().split("\r\n").length - 1, 0) };
  }
  download(answer.text, format);
  showText($("export-state"), `${answer.rows} consent ${answer.rows === 1 ? "link" : "links"} exported.`);
}
