// Latchkey portal: forms sent to the API, answers shown next to their fields.

import { api, follow, showJobIn } from "./api.js";
import { provePasskey } from "./passkeys.js";

// ---- Errors next to their fields -------------------------------------

export function clearErrors(form) {
  form.querySelectorAll(".error, [data-form-error]").forEach((node) => {
    node.textContent = "";
  });
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
}

/** The error paragraph that belongs to the input named `name`. */
function errorSlot(form, name) {
  const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
  const slot = input?.closest(".field")?.querySelector(".error");
  return { input, slot };
}

export function showError(form, field, problem) {
  // The API speaks in lowercase clauses; on the page each is a sentence.
  const message = problem.charAt(0).toUpperCase() + problem.slice(1);
  const name = (field ?? "").split(/[.[]/)[0];
  const { input, slot } = name ? errorSlot(form, name) : {};
  if (slot && input && !input.closest("[hidden]")) {
    slot.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  const general = form.querySelector("[data-form-error]");
  general.textContent = message;
  general.focus?.();
}

// ---- Reading forms into JSON ------------------------------------------

/** Keys read from files chosen in a form (a promise of them while the files
 * are read), sent with its `keys` field. */
export const keyFiles = new WeakMap();

export function splitKeys(text) {
  const blocks = text.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?-----END [A-Z0-9 ]+-----/g);
  if (blocks) return blocks;
  const trimmed = text.trim();
  return trimmed ? [trimmed] : [];
}

function formBody(form, fileKeys) {
  const body = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (input.hasAttribute("data-local") || input.closest("[hidden]")) continue;
    const name = input.name;
    if (input.hasAttribute("data-array")) {
      body[name] ??= [];
      if (input.checked) body[name].push(input.value);
    } else if (input.hasAttribute("data-bool")) {
      body[name] = input.checked;
    } else if (input.type === "radio") {
      if (input.checked) body[name] = input.value;
    } else if (input.hasAttribute("data-keys")) {
      body[name] = [...splitKeys(input.value), ...fileKeys];
    } else if (input.hasAttribute("data-number")) {
      if (input.value !== "") body[name] = Number(input.value);
    } else if (input.value !== "" || input.required) {
      body[name] = input.value;
    }
  }
  return body;
}

/** The body to send, once the key files chosen in the form are read. */
async function requestBody(form, method) {
  if (method === "DELETE" && !form.querySelector("input[name]:not([data-local])")) return undefined;
  return formBody(form, (await keyFiles.get(form)) ?? []);
}

/** Checks made before sending: the same password twice, confirmations. */
function localProblem(form) {
  for (const input of form.querySelectorAll("[data-same-as]")) {
    const other = form.querySelector(`[name="${input.dataset.sameAs}"]`);
    if (other && input.value !== other.value) {
      return { field: input.id, message: "The two new passwords are not the same." };
    }
  }
  for (const box of form.querySelectorAll("[data-confirm]")) {
    if (!box.checked) return { message: "Tick the box to confirm first." };
  }
  return null;
}

// ---- Step-up: the password (and code) asked for in place -----------------

const stepUpProblems = {
  "/problems/password-required": false,
  "/problems/password-and-code-required": true,
};

/** The proof typed into the step-up dialog, or null when it is cancelled. */
function proofFrom(dialog) {
  const form = dialog.querySelector("form");
  return new Promise((resolve) => {
    const finish = (proof) => {
      form.onsubmit = null;
      dialog.oncancel = null;
      dialog.querySelector("[data-step-up-cancel]").onclick = null;
      resolve(proof);
    };
    const typed = () => {
      const proof = {};
      for (const input of form.querySelectorAll("input[name]")) {
        if (!input.closest("[hidden]") && input.value) proof[input.name] = input.value;
      }
      return proof;
    };
    form.onsubmit = (event) => {
      event.preventDefault();
      finish(typed());
    };
    const passkeyButton = dialog.querySelector("[data-step-up-passkey]");
    if (passkeyButton) {
      passkeyButton.onclick = async () => {
        clearErrors(dialog);
        try {
          const passkey = await provePasskey("/api/passkeys/authentication", {});
          const { code: _ignored, ...proof } = typed();
          finish({ ...proof, passkey });
        } catch (error) {
          showError(dialog, null, error.message);
        }
      };
    }
    dialog.oncancel = () => finish(null);
    dialog.querySelector("[data-step-up-cancel]").onclick = () => finish(null);
  });
}

/** Sends a request; when the server asks for the password (and a code)
 * again, asks for them in a dialog over the page, so nothing typed in the
 * form is lost, and sends the same request again with them. */
export async function sendWithStepUp(path, method, body) {
  let answer = await api(path, method, body);
  const dialog = document.getElementById("step-up");
  if (answer.ok || !(answer.data.type in stepUpProblems) || !dialog) return answer;
  const needsCode = stepUpProblems[answer.data.type];
  dialog.querySelectorAll("[data-step-up-code]").forEach((node) => (node.hidden = !needsCode));
  dialog.querySelector("form").reset();
  clearErrors(dialog);
  dialog.showModal();
  for (;;) {
    const proof = await proofFrom(dialog);
    if (!proof) break;
    clearErrors(dialog);
    answer = await api(path, method, { ...(body ?? {}), ...proof });
    const field = answer.data.field;
    if (answer.ok || !["password", "code", "recovery_code", "passkey"].includes(field)) break;
    showError(dialog, field === "password" ? "password" : field === "passkey" ? null : "code", answer.data.detail);
  }
  dialog.close();
  return answer;
}

// ---- What happens after a successful answer ---------------------------

const then = {
  "signed-in"(form, data) {
    if (data.second_factor_required) {
      const second = document.getElementById("second-step");
      second.querySelector('[name="challenge"]').value = data.challenge;
      const factors = data.factors ?? ["code", "recovery_code"];
      const passkey = second.querySelector("[data-second-step-passkey]");
      passkey.hidden = !factors.includes("passkey");
      const codes = factors.includes("code") || factors.includes("recovery_code");
      for (const node of second.querySelectorAll("[data-code-step]")) node.hidden = !codes;
      form.hidden = true;
      second.hidden = false;
      (passkey.hidden ? second.querySelector("input:not([type=hidden])") : passkey).focus();
      return;
    }
    window.location.assign("/account");
  },
  "signed-out"() {
    window.location.assign("/sign-in");
  },
  reload() {
    window.location.reload();
  },
  async job(form, data) {
    const status = form.querySelector("[data-status]");
    form.reset();
    const job = await follow(data.job.id, (job) => showJobIn(status, job));
    return job;
  },
  async "job-reload"(form, data) {
    // A mailbox pass can take a while: the page shows its progress bar.
    if (data.job.kind === "encrypt_mailbox") {
      window.location.reload();
      return;
    }
    const job = await then.job(form, data);
    if (job?.state === "succeeded") window.location.reload();
  },
  enrolment(form, data) {
    document.getElementById("qr").src = `data:image/png;base64,${data.qr_code_png_base64}`;
    document.getElementById("secret").textContent = data.secret.replace(/(.{4})/g, "$1 ").trim();
    document.querySelector('#confirm-enrolment [name="token"]').value = data.token;
    form.hidden = true;
    const section = document.getElementById("enrolment");
    section.hidden = false;
    document.getElementById("confirm-code").focus();
  },
  async "recovery-codes"(form, data) {
    const list = document.getElementById("codes");
    list.replaceChildren(
      ...data.recovery_codes.map((code) => {
        const item = document.createElement("li");
        item.textContent = code;
        return item;
      }),
    );
    document.getElementById("enrolment")?.setAttribute("hidden", "");
    const panel = document.getElementById("recovery-codes");
    panel.hidden = false;
    panel.focus();
    form.reset();
    const status = panel.querySelector("[data-status]");
    await follow(data.job.id, (job) => showJobIn(status, job));
  },
  async "app-password"(form, data) {
    document.getElementById("app-secret").textContent = data.secret;
    const panel = document.getElementById("new-secret");
    panel.hidden = false;
    panel.focus();
    await then.job(form, data);
  },
};

export async function submit(event) {
  const form = event.target.closest("form[data-api]");
  if (!form) return;
  event.preventDefault();
  clearErrors(form);
  const local = localProblem(form);
  if (local) {
    showError(form, local.field ? form.querySelector(`#${local.field}`)?.name : null, local.message);
    return;
  }
  const method = form.dataset.method ?? "POST";
  const buttons = form.querySelectorAll("button[type=submit]");
  buttons.forEach((button) => (button.disabled = true));
  const status = form.querySelector("[data-status]");
  if (status) status.textContent = "Sending…";
  const ready = () => {
    buttons.forEach((button) => (button.disabled = false));
    if (status) status.textContent = "";
  };
  let body;
  try {
    body = await requestBody(form, method);
  } catch {
    ready();
    showError(form, "keys", "A chosen key file could not be read. Choose it again.");
    return;
  }
  const { ok, status: code, data } = await sendWithStepUp(form.dataset.api, method, body);
  ready();
  if (!ok) {
    if (code === 401 && form.id !== "sign-in" && form.id !== "second-step") {
      const expired = data.type === "/problems/session-expired";
      window.location.assign(expired ? "/sign-in?expired" : "/sign-in");
      return;
    }
    if (data.field === "challenge") {
      window.location.reload();
      return;
    }
    showError(form, data.field, data.detail ?? "The request failed.");
    return;
  }
  await then[form.dataset.then ?? "job"](form, data);
}
