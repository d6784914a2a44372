// Latchkey portal: sends forms to the JSON API, shows its answers next to
// the fields they concern, follows jobs until they finish. Plain ES modules,
// no build step; the Content-Security-Policy allows only this origin's script.

import { api, follow, followProgress, showJobIn } from "./api.js";
import { keyFiles, splitKeys, submit } from "./forms.js";
import { wirePasskeys } from "./passkey_pages.js";
import { offerPasskeySignIn } from "./passkeys.js";

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
  return keys;
}

function chooseKeyFiles(input) {
  // Kept as a promise, so a form sent while the files are still read waits
  // for them instead of going without their keys.
  const keys = readKeyFiles(input);
  keys.catch(() => {}); // reported when the form is sent
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
  if (target.hasAttribute("data-key-files")) chooseKeyFiles(target);
  if (target.hasAttribute("data-method-choice")) offerAlgorithms(target.form);
});

function start() {
  wirePasskeys();
  const passkeySignIn = document.getElementById("passkey-sign-in");
  if (passkeySignIn) {
    offerPasskeySignIn(passkeySignIn, document.querySelector("#sign-in [data-form-error]"));
  }
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
