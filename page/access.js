// Who is signed in, from the platform's own GET /.auth/me, and what the page shows for their role. Without an
// answer (sign-in off, the function-key mode) every control shows and the API alone decides. With one, the body
// carries data-role, and app.css hides each control whose data-needs is a role above it; the API still refuses.
import { $ } from "./dom.js";

const RANK = { Reader: 1, Operator: 2, Administrator: 3 };
// Claim types by their short name, or the mapped schema URI's last segments.
const isRole = (typ) => typ === "roles" || typ.endsWith("/identity/claims/role");
const isName = (typ) => ["name", "preferred_username"].includes(typ) || typ.endsWith("/identity/claims/name");

// { name, role } of the person signed in (role: their highest, or null), or null when nobody is.
export async function whoIsSignedIn() {
  let response;
  try {
    response = await fetch("/.auth/me", { cache: "no-store", credentials: "same-origin",
      headers: { Accept: "application/json" } });
  } catch {
    return null;
  }
  if (!response.ok) return null;
  const data = await response.json().catch(() => null);
  const me = Array.isArray(data) ? data[0] : null;
  if (!me || !Array.isArray(me.user_claims)) return null;
  const claims = me.user_claims.filter((c) => c && typeof c.typ === "string" && typeof c.val === "string");
  const roles = claims.filter((c) => isRole(c.typ) && c.val in RANK).map((c) => c.val);
  const name = claims.find((c) => isName(c.typ));
  return {
    name: name ? name.val : String(me.user_id || ""),
    role: roles.sort((a, b) => RANK[b] - RANK[a])[0] || null,
  };
}

// Whether `who` (null: the function-key mode) may do what needs `role`.
export const may = (who, role) => !who || (who.role !== null && RANK[who.role] >= RANK[role]);

export function showWho(who) {
  if (!who) return;
  document.body.dataset.role = who.role || "none";
  $("who-name").textContent = who.name;
  $("who-role").textContent = who.role || "no role";
  $("who").hidden = false;
}
