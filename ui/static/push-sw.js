/* Beffroi's Web Push service worker: shows the notifications that mcms.push sends, opens their link when tapped.
   A website that offers "get notified" copies this file to its own root (a service worker must come from the
   site's own origin) with push-subscribe.js. A message sent twice (a retried step) has the same tag: the second
   replaces the first without alerting again. */
"use strict";

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { title: event.data ? event.data.text() : "" };
  }
  event.waitUntil(self.registration.showNotification(data.title || "", {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: false,
    data: { url: data.url || null },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (url) {
    event.waitUntil(self.clients.openWindow(url));
  }
});
