// Latchkey portal: passkeys (WebAuthn). The gateway sends the options as
// JSON with binary fields in base64url; the browser wants ArrayBuffers, and
// its answer goes back as JSON the same way.

import { api } from "./api.js";

const fromBase64url = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;

const toBase64url = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Whether this browser can use passkeys at all. */
export const supported = () => typeof window.PublicKeyCredential === "function";

/** Creates a passkey with the options of `POST /api/passkeys/registration`. */
export async function createPasskey(options) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = fromBase64url(publicKey.challenge);
  publicKey.user.id = fromBase64url(publicKey.user.id);
  publicKey.excludeCredentials = (publicKey.excludeCredentials ?? []).map((credential) => ({
    ...credential,
    id: fromBase64url(credential.id),
  }));
  const credential = await navigator.credentials.create({ publicKey });
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: {
      attestationObject: toBase64url(credential.response.attestationObject),
      clientDataJSON: toBase64url(credential.response.clientDataJSON),
      transports: credential.response.getTransports?.() ?? [],
    },
  };
}

/** Answers an authentication's options with a passkey; `mediation` and
 * `signal` as for `navigator.credentials.get()`. */
export async function getPasskey(options, { mediation, signal } = {}) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = fromBase64url(publicKey.challenge);
  publicKey.allowCredentials = (publicKey.allowCredentials ?? []).map((credential) => ({
    ...credential,
    id: fromBase64url(credential.id),
  }));
  const credential = await navigator.credentials.get({ publicKey, mediation, signal });
  const response = credential.response;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: {
      authenticatorData: toBase64url(response.authenticatorData),
      clientDataJSON: toBase64url(response.clientDataJSON),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    },
  };
}

/** Runs a whole authentication: options from `path` (with `body`), the
 * browser's passkey; resolves to `{token, credential}` or throws a message. */
export async function provePasskey(path, body) {
  const started = await api(path, "POST", body);
  if (!started.ok) throw new Error(started.data.detail ?? "The passkey could not be asked for.");
  try {
    const credential = await getPasskey(started.data.options);
    return { token: started.data.token, credential };
  } catch (error) {
    throw new Error(browserProblem(error));
  }
}

/** What a failed browser ceremony means to a person. */
export function browserProblem(error) {
  if (error?.name === "NotAllowedError") return "The passkey was not used (cancelled or timed out).";
  if (error?.name === "InvalidStateError") return "This device's passkey is registered already.";
  if (error?.name === "SecurityError") return "Passkeys do not work at this address; use the portal's https name.";
  return error?.message ?? "The passkey could not be used.";
}

// ---- Sign-in without a password (conditional UI and a button) ----------

let pending = null;

async function signInWith(mediation) {
  pending?.abort();
  pending = new AbortController();
  const started = await api("/api/session/passkey/options/discoverable", "POST", {});
  if (!started.ok) throw new Error(started.data.detail);
  const credential = await getPasskey(started.data.options, { mediation, signal: pending.signal });
  const answer = await api("/api/session/passkey", "POST", { token: started.data.token, credential });
  if (!answer.ok) throw new Error(answer.data.detail);
  window.location.assign("/account");
}

/** Offers the browser's passkeys in the username field's autofill where
 * the browser can (conditional mediation), and wires the button. */
export async function offerPasskeySignIn(button, errorSlot) {
  if (!supported()) return;
  button.hidden = false;
  const report = (error) => {
    if (error?.name !== "AbortError") errorSlot.textContent = browserProblem(error);
  };
  button.addEventListener("click", () => signInWith("optional").catch(report));
  if (await PublicKeyCredential.isConditionalMediationAvailable?.()) {
    signInWith("conditional").catch(report);
  }
}
