// Latchkey portal: sends forms to the JSON API, shows its answers next to
// the fields they concern, follows jobs until they finish. Plain script, no
// build step; the Content-Security-Policy allows only this file.
"use strict";

(() => {
  const csrfToken = () =>
    document.querySelector('meta[name="csrf-token"]')?.content ?? "";

  /** Sends `body` to the API; resolves to {ok, status, data}. */
  async function api(path, method = "GET", body = undefined) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch {
      return {
        ok: false,
        status: 0,
        data: { detail: "The portal cannot be reached. Check your connection and try again." },
      };
    }
    let data = {};
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch {
        data = { detail: `The server answered ${response.status} without details. Please try again.` };
      }
    }
    return { ok: response.ok, status: response.status, data };
  }

  // ---- Errors next to their fields -------------------------------------

  function clearErrors(form) {
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

  function showError(form, field, message) {
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

  const keyFiles = new WeakMap();

  function splitKeys(text) {
    const blocks = text.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?-----END [A-Z0-9 ]+-----/g);
    if (blocks) return blocks;
    const trimmed = text.trim();
    return trimmed ? [trimmed] : [];
  }

  function formBody(form) {
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
        body[name] = [...splitKeys(input.value), ...(keyFiles.get(form) ?? [])];
      } else if (input.hasAttribute("data-number")) {
        if (input.value !== "") body[name] = Number(input.value);
      } else if (input.value !== "" || input.required) {
        body[name] = input.value;
      }
    }
    return body;
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

  // ---- Jobs ---------------------------------------------------------------

  const stateWords = {
    queued: "Pending",
    running: "In progress",
    succeeded: "Done",
    failed: "Failed",
  };

  function describeJob(job) {
    let text = stateWords[job.state] ?? job.state;
    if (job.kind === "encrypt_mailbox" && job.total > 0) {
      text += `: ${job.done} of ${job.total} messages`;
    } else if (job.state === "queued") {
      text += ": waiting for a worker";
    }
    if (job.error) text += `: ${job.error}`;
    return text;
  }

  /** Polls a job until it ends, calling `update(job)` each time. */
  async function follow(id, update) {
    for (;;) {
      const { ok, status, data } = await api(`/api/jobs/${encodeURIComponent(id)}`);
      if (!ok) {
        update({ state: "failed", error: status === 401 ? "your session ended; sign in again" : data.detail });
        return null;
      }
      update(data);
      if (data.state === "succeeded" || data.state === "failed") return data;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  function showJobIn(node, job) {
    node.textContent = describeJob(job);
    node.className = node.className.replace(/\b(queued|running|succeeded|failed)\b/g, "").trim();
    node.classList.add("state", job.state);
  }

  function followProgress(panel) {
    const bar = panel.querySelector("progress");
    const text = panel.querySelector("[data-progress-text]");
    return follow(panel.dataset.job, (job) => {
      if (job.total > 0) {
        bar.max = job.total;
        bar.value = job.done;
      } else if (job.state === "succeeded") {
        bar.max = 1;
        bar.value = 1;
      }
      text.textContent = describeJob(job);
      panel.dataset.state = job.state;
    });
  }

  // ---- What happens after a successful answer ---------------------------

  const then = {
    "signed-in"(form, data) {
      if (data.second_factor_required) {
        const second = document.getElementById("second-step");
        second.querySelector('[name="challenge"]').value = data.challenge;
        form.hidden = true;
        second.hidden = false;
        second.querySelector("input:not([type=hidden])").focus();
        return;
      }
      window.location.assign("/account");
    },
    "signed-out"() {
      window.location.assign("/sign-in");
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

  async function submit(event) {
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
    const body = method === "DELETE" && !form.querySelector("input[name]:not([data-local])")
      ? undefined
      : formBody(form);
    const buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach((button) => (button.disabled = true));
    const status = form.querySelector("[data-status]");
    if (status) status.textContent = "Sending…";
    const { ok, status: code, data } = await api(form.dataset.api, method, body);
    buttons.forEach((button) => (button.disabled = false));
    if (status) status.textContent = "";
    if (!ok) {
      if (code === 401 && form.id !== "sign-in" && form.id !== "second-step") {
        const expired = data.type === "/problems/session-expired";
        window.location.assign(expired ? "/sign-in?expired" : "/sign-in");
        return;
      }
      if (data.field === "password") form.querySelector("[data-reauth]")?.removeAttribute("hidden");
      if (data.field === "challenge") {
        window.location.reload();
        return;
      }
      showError(form, data.field, data.detail ?? "The request failed.");
      return;
    }
    await then[form.dataset.then ?? "job"](form, data);
  }

  // ---- Small helpers: strength meter, copy, print, key files -------------

  function strengthMeter(input) {
    const box = document.getElementById(input.dataset.strength);
    const meter = box.querySelector("meter");
    const text = box.querySelector("p");
    let timer;
    let latest = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const asked = ++latest;
        if (!input.value) {
          meter.value = 0;
          text.textContent = "Type a password to see how strong it is.";
          return;
        }
        const { ok, data } = await api("/api/password/strength", "POST", { password: input.value });
        if (!ok || asked !== latest) return;
        meter.value = data.score;
        text.textContent = data.acceptable
          ? `Strength ${data.score} of 4: good.`
          : `Strength ${data.score} of 4: ${data.detail}.`;
        box.dataset.acceptable = data.acceptable;
      }, 250);
    });
  }

  async function copy(button) {
    const source = document.getElementById(button.dataset.copy);
    const text = source.tagName === "OL"
      ? [...source.children].map((item) => item.textContent).join("\n")
      : source.textContent;
    const note = button.closest("section").querySelector("[data-copied]");
    try {
      await navigator.clipboard.writeText(text);
      note.textContent = "Copied.";
    } catch {
      window.getSelection().selectAllChildren(source);
      note.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
    }
  }

  function bytesToBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  async function readKeyFiles(input) {
    const keys = [];
    for (const file of input.files) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
      keys.push(...(text.includes("-----BEGIN ") ? splitKeys(text) : [bytesToBase64(bytes)]));
    }
    keyFiles.set(input.form, keys);
  }

  function offerAlgorithms(form) {
    const method = form.querySelector("[data-method-choice]:checked")?.value;
    const select = form.querySelector('select[name="algorithm"]');
    let firstShown = null;
    for (const option of select.options) {
      const shown = option.dataset.for === method;
      option.hidden = !shown;
      option.disabled = !shown;
      if (shown && !firstShown) firstShown = option;
    }
    if (select.selectedOptions[0]?.disabled) select.value = firstShown.value;
  }

  document.addEventListener("submit", submit);
  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.copy) copy(target);
    if (target.hasAttribute("data-print")) window.print();
    if (target.hasAttribute("data-toggle-factor")) {
      const form = target.form;
      for (const field of form.querySelectorAll("[data-factor]")) field.hidden = !field.hidden;
      target.textContent = form.querySelector('[data-factor="code"]').hidden
        ? "Use a code from your app instead"
        : "Use a recovery code instead";
      form.querySelector("[data-factor]:not([hidden]) input").focus();
    }
  });
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.hasAttribute("data-show-passwords")) {
      for (const input of target.form.querySelectorAll('input[autocomplete$="password"]')) {
        input.type = target.checked ? "text" : "password";
      }
    }
    if (target.hasAttribute("data-key-files")) readKeyFiles(target);
    if (target.hasAttribute("data-method-choice")) offerAlgorithms(target.form);
  });

  function start() {
    document.querySelectorAll("[data-strength]").forEach(strengthMeter);
    document.querySelectorAll("[data-method-choice]").forEach((radio) => {
      if (radio.checked) offerAlgorithms(radio.form);
    });
    document.querySelectorAll("[data-progress][data-job]").forEach(followProgress);
    document.querySelectorAll("span[data-job]").forEach((node) =>
      follow(node.dataset.job, (job) => showJobIn(node, job)));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
