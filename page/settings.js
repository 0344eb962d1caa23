// Settings (GET/PUT /api/settings): Apply Changes saves, Reset Changes puts back what was last loaded.
// The client secret is write-only: the form says whether one is set, and an empty field keeps it.
import { api } from "./api.js";
import { $, showText, whileBusy } from "./dom.js";
import { formFields } from "./form-fields.js";
import { fromNow, localTime } from "./format.js";

const CALLBACK = "/authenticate/OAuth2Callback";

export function createSettings({ report }) {
  const form = $("settings");
  const errors = formFields(form, $("settings-error"));
  const suggested = location.origin + CALLBACK;
  let loaded = null;
  let dirty = false;

  $("suggested-redirect").textContent = suggested;
  $("redirectUrl").placeholder = suggested;
  $("use-suggested").addEventListener("click", () => {
    $("redirectUrl").value = suggested;
    changed();
  });

  function changed() {
    dirty = true;
    $("settings-state").textContent = "Unsaved changes.";
  }
  form.addEventListener("input", changed);

  function fill(settings) {
    loaded = settings;
    dirty = false;
    errors.clear();
    $("clientId").value = settings.clientId || "";
    $("redirectUrl").value = settings.redirectUrl || "";
    $("clientSecret").value = "";
    $("clientSecret-state").textContent = settings.clientSecretConfigured
      ? "A client secret is set (never shown). Leave empty to keep it; type a new one to replace it."
      : "No client secret is set.";
    $("settings-state").textContent = settings.updatedAt
      ? `Last applied ${localTime(settings.updatedAt)} (${fromNow(settings.updatedAt)}).` : "Not applied yet.";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const body = { clientId: $("clientId").value.trim(), redirectUrl: $("redirectUrl").value.trim() };
    if ($("clientSecret").value) body.clientSecret = $("clientSecret").value;
    await whileBusy(form.querySelector("button[type=submit]"), async () => {
      fill(await api("PUT", "/api/settings", body));
      $("settings-state").textContent = "Changes applied.";
    }).catch(errors.show);
  });

  $("settings-reset").addEventListener("click", () => {
    if (loaded) fill(loaded);
    $("settings-state").textContent = "Changes discarded.";
  });

  return {
    // Reloads unless the person is editing: Reload All must not throw their edits away.
    async load() {
      if (dirty) return;
      try {
        fill(await api("GET", "/api/settings"));
      } catch (error) {
        showText($("settings-error"), error.message);
        report(error);
      }
    },
  };
}
