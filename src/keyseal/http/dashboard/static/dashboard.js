// Keyseal dashboard: small progressive enhancements. Every page works without this file.
"use strict";
(function () {
  const rules = {
    length: (v) => v.length >= 8 && v.length <= 32,
    digit: (v) => /[0-9]/.test(v),
    upper: (v) => /[A-Z]/.test(v),
    lower: (v) => /[a-z]/.test(v),
    special: (v) => /[^A-Za-z0-9]/.test(v),
  };

  // passphrase rules, ticked as the user types
  const pass = document.querySelector('input[data-check="passphrase"]');
  if (pass) {
    const items = document.querySelectorAll("#passphrase-rules [data-rule]");
    const update = () => {
      items.forEach((li) => {
        const ok = rules[li.dataset.rule](pass.value);
        li.classList.toggle("met", ok);
        li.setAttribute("aria-label", (ok ? "done: " : "missing: ") + li.textContent);
      });
    };
    pass.addEventListener("input", update);
    update();
  }

  // IP allow-list: "n of 20" and a hint for entries that are not addresses
  document.querySelectorAll('textarea[data-check="ip"]').forEach((area) => {
    const max = parseInt(area.dataset.max, 10);
    const counter = document.querySelector("#ip-count [data-count]");
    const feedback = document.getElementById("ip-feedback");
    const looksLikeEntry = (p) => /^[0-9a-fA-F:.]+(\/[0-9]{1,3})?$/.test(p);
    const update = () => {
      const parts = [...new Set(area.value.split(/[\s,]+/).filter(Boolean))];
      if (counter) counter.textContent = String(parts.length);
      const bad = parts.filter((p) => !looksLikeEntry(p));
      let message = "";
      if (parts.length > max) message = "At most " + max + " entries; remove " + (parts.length - max) + ".";
      else if (bad.length) message = bad[0] + " is not an IP address or network.";
      if (feedback && (message || feedback.dataset.live)) {
        feedback.dataset.live = "1";
        feedback.textContent = message;
        feedback.className = "feedback" + (message ? " bad" : "");
      }
      area.toggleAttribute("aria-invalid", Boolean(message));
    };
    area.addEventListener("input", update);
  });

  // copy buttons on the one-time reveal
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      const said = document.querySelector(".copied");
      try {
        await navigator.clipboard.writeText(input.value);
        if (said) said.textContent = input.labels[0].textContent + " copied.";
      } catch (e) {
        input.select();
        if (said) said.textContent = "Press Ctrl+C (or ⌘C) to copy the selected value.";
      }
    });
  });

  // leaving the reveal before "I have stored them" asks first
  const reveal = document.querySelector("[data-reveal]");
  if (reveal) {
    const stored = document.getElementById("stored");
    let done = false;
    reveal.querySelector("form").addEventListener("submit", () => { done = true; });
    window.addEventListener("beforeunload", (event) => {
      if (!done && !stored.checked) { event.preventDefault(); event.returnValue = ""; }
    });
  }
})();

// security keys (WebAuthn): the server's options in, the authenticator's answer out
(function () {
  const bind = (box) => {
    const button = box.querySelector("button");
    const said = box.querySelector("[aria-live]");
    const supported = window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON;
    if (!supported) { said.textContent = "This browser cannot use security keys here."; return; }
    button.disabled = false;
    said.textContent = box.dataset.webauthn === "login"
      ? "Insert your security key, then press the button." : "";
    const post = async (url, fields) => {
      const body = new FormData();
      body.append("csrf", box.dataset.csrf);
      Object.entries(fields).forEach(([k, v]) => body.append(k, v));
      const response = await fetch(url, { method: "POST", body, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.msg || "The request failed");
      return data;
    };
    button.addEventListener("click", async () => {
      button.disabled = true;
      said.textContent = "Touch your security key…";
      try {
        const options = await post(box.dataset.options, {});
        let credential;
        if (box.dataset.webauthn === "register") {
          credential = await navigator.credentials.create(
            { publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) });
        } else {
          credential = await navigator.credentials.get(
            { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
        }
        const label = box.querySelector("input[name=label]");
        const code = box.querySelector("input[name=code]");  // adding a factor needs the current one
        const done = await post(box.dataset.verify, {
          credential: JSON.stringify(credential.toJSON()), label: label ? label.value : "",
          code: code ? code.value : "" });
        said.textContent = "Done.";
        if (done.grant) {  // a key change: the form goes on with the key's one-time code
          const form = box.closest("form");
          form.querySelector("input[name=code]").value = done.grant;
          form.requestSubmit();
        } else {
          window.location.assign(done.redirect);
        }
      } catch (error) {
        said.textContent = error.message || String(error);
        button.disabled = false;
      }
    });
  };
  document.querySelectorAll("[data-webauthn]").forEach(bind);
  // content put on the page later (a confirm dialog) gets the same behaviour
  document.addEventListener("keyseal:content", (event) => {
    event.detail.querySelectorAll("[data-webauthn]").forEach(bind);
  });
})();

// the confirm pages (disable, delete, regenerate) open as a dialog over the table; without
// JavaScript the same links lead to the same forms on pages of their own
(function () {
  const links = document.querySelectorAll("a[data-dialog]");
  if (!links.length || typeof HTMLDialogElement !== "function") return;
  const dialog = document.createElement("dialog");
  dialog.className = "modal";
  document.body.appendChild(dialog);
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  links.forEach((link) => {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const response = await fetch(link.href, { credentials: "same-origin" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const card = page.querySelector(".dialog");
      if (!response.ok || !card) { window.location.assign(link.href); return; }
      card.querySelector("form").action = link.href;
      const cancel = card.querySelector(".buttons a");
      if (cancel) cancel.addEventListener("click", (e) => { e.preventDefault(); dialog.close(); });
      dialog.replaceChildren(card);
      document.dispatchEvent(new CustomEvent("keyseal:content", { detail: card }));
      dialog.showModal();
      const first = card.querySelector("input:not([type=hidden])");
      if (first) first.focus();
    });
  });
})();
