// Add or edit a customer (PUT /api/tenants/{id}): the fields of its method only; secrets are write-only
// (an empty secret field keeps the stored one), and no answer ever holds one.
import { ApiError, api, id } from "./api.js";
import { openModal } from "./dialogs.js";
import { $, whileBusy } from "./dom.js";
import { formFields } from "./form-fields.js";

const input = (name) => $(`t-${name}`);

export function createTenantForm({ onSaved }) {
  const dialog = $("tenant-dialog");
  const form = $("tenant-form");
  const errors = formFields(form, $("tenant-error"));
  let editing = null; // the view being edited, or null when adding

  function showMethodFields() {
    const method = input("authenticationMethod").value;
    for (const part of form.querySelectorAll("[data-method]")) part.hidden = part.dataset.method !== method;
  }
  input("authenticationMethod").addEventListener("change", showMethodFields);

  function secretHelp(name, what) {
    const stored = editing && editing.secretsConfigured.includes(name);
    $(`t-${name}-help`).textContent = stored
      ? `A ${what} is stored (never shown). Leave empty to keep it; type a new one to replace it.`
      : `No ${what} is stored yet.`;
  }

  function body() {
    const method = input("authenticationMethod").value;
    const data = { tenantId: input("tenantId").value.trim(), authenticationMethod: method };
    const email = input("m365Email").value.trim();
    if (email) data.m365Email = email;
    const optional = method === "password" ? ["password"]
      : method === "application" ? ["applicationId", "applicationSecret"] : [];
    for (const name of optional) {
      const value = name.endsWith("Id") ? input(name).value.trim() : input(name).value;
      if (value) data[name] = value;
    }
    return data;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const customerId = editing ? editing.customerId : input("customerId").value.trim();
    await whileBusy(form.querySelector("button[type=submit]"), async () => {
      if (!editing) await mustBeNew(customerId);
      const view = await api("PUT", `/api/tenants/${id(customerId)}`, body());
      dialog.close();
      onSaved(view, !editing);
    }).catch(errors.show);
  });

  return {
    open(view) {
      editing = view || null;
      form.reset();
      errors.clear();
      $("tenant-title").textContent = editing ? `Edit ${editing.customerId}` : "Add customer";
      input("customerId").readOnly = Boolean(editing);
      if (editing) {
        input("customerId").value = editing.customerId;
        input("tenantId").value = editing.tenantId;
        input("authenticationMethod").value = editing.authenticationMethod;
        input("m365Email").value = editing.m365Email || "";
      }
      secretHelp("password", "password");
      secretHelp("applicationSecret", "application secret");
      input("applicationId").placeholder = editing ? "Leave empty to keep the stored one" : "";
      showMethodFields();
      openModal(dialog, editing ? input("tenantId") : input("customerId"));
    },
  };
}

// PUT creates or replaces: adding must not overwrite a customer that exists already.
async function mustBeNew(customerId) {
  if (!customerId) throw new ApiError(400, "invalidCustomerId", "Customer Id is required.", "customerId");
  try {
    await api("GET", `/api/tenants/${id(customerId)}`);
  } catch (error) {
    if (error.status === 404) return;
    throw error;
  }
  throw new ApiError(409, "invalidCustomerId", `A customer with the Customer Id ${customerId} exists already.`,
    "customerId");
}
