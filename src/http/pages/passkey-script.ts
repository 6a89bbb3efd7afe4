// The one script the hosted pages load: the glue between the passkey forms
// and navigator.credentials. Served as a file (the CSP allows this path and
// nothing inline), cached for good under a URL that carries its hash. It
// asks the server for options, runs the ceremony, puts the browser's answer
// in the form's hidden `response` field and submits the form, so the answer
// and every error arrive as an ordinary page. Pages work without it; only
// the passkey buttons (hidden until it runs) need it.
import { createHash } from "node:crypto";

const SOURCE = String.raw`"use strict";
(() => {
  const PKC = window.PublicKeyCredential;
  if (!PKC || !navigator.credentials) return;
  const enc = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const dec = (text) => {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  };
  const withIds = (list) => (list || []).map((item) => ({ ...item, id: dec(item.id) }));
  const creation = (json) =>
    PKC.parseCreationOptionsFromJSON
      ? PKC.parseCreationOptionsFromJSON(json)
      : { ...json, challenge: dec(json.challenge), user: { ...json.user, id: dec(json.user.id) },
          excludeCredentials: withIds(json.excludeCredentials) };
  const request = (json) =>
    PKC.parseRequestOptionsFromJSON
      ? PKC.parseRequestOptionsFromJSON(json)
      : { ...json, challenge: dec(json.challenge), allowCredentials: withIds(json.allowCredentials) };
  const answer = (credential) => {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: enc(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = enc(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = enc(r.authenticatorData);
      response.signature = enc(r.signature);
      if (r.userHandle) response.userHandle = enc(r.userHandle);
    }
    return { id: credential.id, rawId: enc(credential.rawId), type: credential.type,
      response, clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined };
  };
  const options = async (url) => {
    const res = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" }, body: "{}" });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
    return body.options;
  };
  const show = (form, error) => {
    const box = form.querySelector("[data-passkey-error]");
    if (!box) return;
    const cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
    box.textContent = cancelled ? form.dataset.msgCancelled : error.message || form.dataset.msgFailed;
    box.hidden = false;
    box.focus();
  };
  const send = (form, credential) => {
    form.elements.response.value = JSON.stringify(answer(credential));
    form.submit();
  };
  for (const button of document.querySelectorAll("[data-passkey-button]")) button.hidden = false;
  // A button hidden while the page loaded missed its autofocus: it takes the focus now, if nothing has it.
  const first = document.querySelector("[data-passkey-button][autofocus]");
  if (first && (!document.activeElement || document.activeElement === document.body)) first.focus();
  for (const note of document.querySelectorAll("[data-passkey-nojs]")) note.hidden = true;

  for (const form of document.querySelectorAll('form[data-passkey="register"]')) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const json = await options(form.dataset.options);
        send(form, await navigator.credentials.create({ publicKey: creation(json) }));
      } catch (error) {
        show(form, error);
      }
    });
  }

  // The step-up page: prove one of the account's own passkeys (no autofill there).
  for (const form of document.querySelectorAll('form[data-passkey="step-up"]')) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const json = await options(form.dataset.options);
        send(form, await navigator.credentials.get({ publicKey: request(json) }));
      } catch (error) {
        show(form, error);
      }
    });
  }

  const login = document.querySelector('form[data-passkey="login"]');
  if (!login) return;
  let autofill;
  login.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (autofill) autofill.abort();
    try {
      const json = await options(login.dataset.options);
      send(login, await navigator.credentials.get({ publicKey: request(json) }));
    } catch (error) {
      show(login, error);
    }
  });
  // The browser's autofill: passkeys offered in the username field (autocomplete="username webauthn").
  if (PKC.isConditionalMediationAvailable) {
    PKC.isConditionalMediationAvailable().then(async (available) => {
      if (!available) return;
      autofill = new AbortController();
      const signal = autofill.signal;
      const json = await options(login.dataset.options);
      if (signal.aborted) return;
      const credential = await navigator.credentials.get({ publicKey: request(json),
        mediation: "conditional", signal });
      send(login, credential);
    }).catch(() => {});
  }
})();
`;

export const PASSKEY_SCRIPT = SOURCE;
/** Short hash of the script: its URL changes when it does, so it can be cached for good. */
export const PASSKEY_SCRIPT_VERSION = createHash("sha256")
  .update(SOURCE)
  .digest("base64url")
  .slice(0, 16);
/** The script's path under AUTH_PREFIX. */
export const PASSKEY_SCRIPT_PATH = "/passkeys/script.js";
