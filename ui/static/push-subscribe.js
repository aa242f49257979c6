/* "Get notified" for a city website, with Beffroi's Web Push (mcms.push). Copy this file and push-sw.js to the
   site, then add a button; its texts stay the site's own, in its own language:

     <button type="button" data-beffroi="https://beffroi.ville.example" data-topic="news"
             data-done="You will be notified." data-failed="Notifications could not be turned on."
             aria-describedby="push-status">Get notified</button>
     <p id="push-status" role="status"></p>
     <script src="/push-subscribe.js" defer></script>

   Browsers without Web Push hide the button. Nothing is sent before the visitor presses it. */
"use strict";

(function () {
  function keyBytes(text) {
    const padded = text + "=".repeat((4 - (text.length % 4)) % 4);
    const raw = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function say(button, text) {
    const status = document.getElementById(button.getAttribute("aria-describedby") || "");
    if (status) {
      status.textContent = text || "";
    }
  }

  async function subscribe(button) {
    const base = button.dataset.beffroi.replace(/\/+$/, "");
    const registration = await navigator.serviceWorker.register(button.dataset.worker || "/push-sw.js");
    const key = await fetch(base + "/push/key").then((answer) => answer.json());
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(key.public_key),
    });
    const answer = await fetch(base + "/push/subscribe", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic: button.dataset.topic || "news", subscription: subscription.toJSON() }),
    });
    if (!answer.ok) {
      throw new Error("subscribe answered " + answer.status);
    }
  }

  document.querySelectorAll("button[data-beffroi]").forEach((button) => {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      button.hidden = true;
      return;
    }
    button.addEventListener("click", () => {
      button.disabled = true;
      subscribe(button)
        .then(() => say(button, button.dataset.done))
        .catch(() => {
          button.disabled = false;
          say(button, button.dataset.failed);
        });
    });
  });
})();
