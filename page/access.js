// Who is signed in, from GET /api/me (the principal the platform forwards; its own /.auth/me needs a token store,
// which the infra leaves off), and what the page shows for their role. Without a principal (sign-in off, the
// function-key mode) every control shows and the API alone decides. With one, the body carries data-role, and
// app.css hides each control whose data-needs is a role above it; the API still refuses.
import { api } from "./api.js";
import { $ } from "./dom.js";

const ROLES = new Set(["Reader", "Operator", "Administrator"]);

// { name, role } of the person signed in (role: their highest, or null), or null when nobody is.
export async function whoIsSignedIn() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch {
    return null;
  }
  if (!me || !me.signedIn) return null;
  return { name: String(me.name || me.objectId || ""), role: ROLES.has(me.role) ? me.role : null };
}

export function showWho(who) {
  if (!who) return;
  document.body.dataset.role = who.role || "none";
  $("who-name").textContent = who.name;
  $("who-role").textContent = who.role || "no role";
  $("who").hidden = false;
}
