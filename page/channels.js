// Alert channels (GET/PUT/DELETE /api/alerts/channels, POST .../test): the list with each channel's last delivery
// and last failure, a form to add or change one, a test message, and the signing secret shown once.
import { api, id } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { $, el, showText, whileBusy } from "./dom.js";
import { formFields } from "./form-fields.js";
import { fromNow, localTime } from "./format.js";
import { emptyRow, setColumns } from "./render.js";

const KINDS = { webhook: "Webhook", teams: "Teams" };
const COLUMNS = ["Channel", "Kind", "Host", "Events", "Last delivery", "Last failure", { hidden: "Actions" }];

function delivery(item) {
  if (!item) return el("span", { text: "None yet" });
  const when = item.sentAt || item.createdAt;
  const words = { sent: "Sent", pending: "Pending", failed: "Failed" }[item.state] || item.state;
  const cell = el("div", { className: `delivery delivery-${item.state}` },
    el("span", { text: `${words} ${fromNow(when)}`, attrs: { title: localTime(when) } }));
  if (item.lastError) cell.append(el("p", { className: "message", text: item.lastError }));
  return cell;
}

export function createChannels({ report }) {
  setColumns($("channels"), COLUMNS);
  const form = $("channel-form");
  const errors = formFields(form, $("channel-error"));

  function row(channel) {
    const test = el("button", { text: "Test", attrs: { type: "button", "data-action": "test" } });
    const remove = el("button", { text: "Delete", className: "danger", attrs: { type: "button" } });
    test.addEventListener("click", () => whileBusy(test, async () => {
      const outcome = await api("POST", `/api/alerts/channels/${id(channel.channelId)}/test`);
      await load(); // the rows are new: say what happened once they are in place
      showText($("channel-state"), outcome.delivered
        ? `Test message delivered to ${channel.channelId}.`
        : `Test message to ${channel.channelId} not delivered: ${outcome.detail}.`);
    }).catch((error) => showText($("channel-state"), error.message)));
    remove.addEventListener("click", async () => {
      const sure = await confirmDialog(`Delete ${channel.channelId}?`,
        `The channel ${channel.channelId} and its URL are deleted; messages not yet sent to it are dropped.`,
        "Delete");
      if (!sure) return;
      await api("DELETE", `/api/alerts/channels/${id(channel.channelId)}`).then(load)
        .catch((error) => showText($("channel-state"), error.message));
    });
    const edit = el("button", { text: channel.channelId, className: "link", attrs: { type: "button" } });
    edit.addEventListener("click", () => fill(channel));
    return el("tr", { attrs: { "data-id": channel.channelId } },
      el("th", { attrs: { scope: "row" } }, edit),
      el("td", { text: KINDS[channel.kind] || channel.kind }),
      el("td", { text: channel.urlHost || "-" }),
      el("td", { text: `${channel.enabled ? "" : "(off) "}${channel.events.join(", ")}` }),
      el("td", {}, delivery(channel.lastDelivery)),
      el("td", {}, channel.lastFailure ? delivery(channel.lastFailure) : el("span", { text: "None" })),
      el("td", { className: "actions" }, test, remove));
  }

  function fill(channel) {
    errors.clear();
    $("c-channelId").value = channel.channelId;
    $("c-kind").value = channel.kind;
    $("c-url").value = "";
    for (const box of form.querySelectorAll("input[name=events]")) box.checked = channel.events.includes(box.value);
    $("c-enabled").checked = channel.enabled;
    $("c-rotate").checked = false;
    $("c-channelId").focus();
  }

  async function load() {
    const { channels } = await api("GET", "/api/alerts/channels");
    const rows = channels.map(row);
    if (!rows.length) rows.push(emptyRow(COLUMNS, "No alert channels yet."));
    $("channel-rows").replaceChildren(...rows);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    $("channel-secret").hidden = true;
    const channelId = $("c-channelId").value.trim();
    const body = {
      kind: $("c-kind").value,
      events: [...form.querySelectorAll("input[name=events]:checked")].map((box) => box.value),
      enabled: $("c-enabled").checked,
    };
    if ($("c-url").value.trim()) body.url = $("c-url").value.trim();
    if ($("c-rotate").checked) body.rotateSigningSecret = true;
    if (!channelId) {
      errors.show({ target: "channelId", message: "channelId is required." });
      return;
    }
    await whileBusy(form.querySelector("button[type=submit]"), async () => {
      const saved = await api("PUT", `/api/alerts/channels/${id(channelId)}`, body);
      $("c-url").value = "";
      $("c-rotate").checked = false;
      if (saved.signingSecret) {
        $("channel-secret-of").textContent = saved.channelId;
        $("channel-secret-value").value = saved.signingSecret;
        $("channel-secret").hidden = false;
      }
      await load();
      showText($("channel-state"), `Channel ${saved.channelId} saved.`);
    }).catch(errors.show);
  });

  return {
    async load() {
      try {
        await load();
      } catch (error) {
        showText($("channel-state"), error.message);
        report(error);
      }
    },
  };
}
