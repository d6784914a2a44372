// Latchkey portal: the pages' passkey controls. Registering one, turning
// its sign-in without a password on or off; the passkey as the second
// step of a sign-in. (Removing one is a plain form.) Changes that need the
// step-up go through the same dialog as every other form.

import { api, follow, showJobIn } from "./api.js";
import { clearErrors, sendWithStepUp, showError } from "./forms.js";
import { browserProblem, createPasskey, provePasskey, supported } from "./passkeys.js";

async function register(form) {
  clearErrors(form);
  const status = form.querySelector("[data-status]");
  const name = form.querySelector('[name="name"]').value;
  const passwordless = form.querySelector('[name="passwordless"]').checked;
  if (!name.trim()) {
    showError(form, "name", "give the passkey a name, such as the device it lives on");
    return;
  }
  const started = await api("/api/passkeys/registration", "POST", {});
  if (!started.ok) {
    showError(form, started.data.field, started.data.detail);
    return;
  }
  let credential;
  try {
    status.textContent = "Follow your browser's prompt…";
    credential = await createPasskey(started.data.options);
  } catch (error) {
    status.textContent = "";
    showError(form, null, browserProblem(error));
    return;
  }
  const body = { token: started.data.token, name, passwordless, credential };
  const answer = await sendWithStepUp("/api/passkeys", "POST", body);
  if (!answer.ok) {
    status.textContent = "";
    showError(form, answer.data.field, answer.data.detail);
    return;
  }
  const job = await follow(answer.data.job.id, (job) => showJobIn(status, job));
  if (job?.state === "succeeded") window.location.reload();
}

async function setPasswordless(box) {
  const status = box.closest("tr").querySelector("[data-status]");
  status.textContent = "Saving…";
  const answer = await sendWithStepUp(
    `/api/passkeys/${encodeURIComponent(box.dataset.passwordless)}`,
    "PATCH",
    { passwordless: box.checked },
  );
  if (!answer.ok) box.checked = !box.checked;
  status.textContent = answer.ok ? "Saved." : answer.data.detail;
}

async function secondStepWithPasskey(form) {
  clearErrors(form);
  const challenge = form.querySelector('[name="challenge"]').value;
  try {
    const passkey = await provePasskey("/api/session/passkey/options", { challenge });
    const answer = await api("/api/session/totp", "POST", { challenge, passkey });
    if (!answer.ok) throw new Error(answer.data.detail);
    window.location.assign("/account");
  } catch (error) {
    showError(form, null, error.message);
  }
}

export function wirePasskeys() {
  const form = document.getElementById("add-passkey");
  if (form) {
    if (!supported()) {
      showError(form, null, "this browser cannot use passkeys");
      form.querySelector("button[type=submit]").disabled = true;
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      register(form);
    });
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button?.hasAttribute("data-second-step-passkey")) secondStepWithPasskey(button.form);
  });
  document.addEventListener("change", (event) => {
    if (event.target.dataset?.passwordless) setPasswordless(event.target);
  });
}
