/* The run page follows its run while it goes on: server-sent events from /runs/<id>/events carry the parts of the
   page that changed (the summary, a step of the timeline), rendered by the server; each is swapped in when its state
   differs from the one shown, and a change of status is announced politely (a long step's progress too, at most
   every ten seconds). Without JavaScript the page has a "Refresh" link. The browser reconnects by itself when the server ends a stream that lasted long enough. */
(function () {
  "use strict";
  var live = document.querySelector("[data-events]");
  if (!live || !window.EventSource) {
    return;
  }
  var announcer = document.getElementById("run-announce");
  var source = new EventSource(live.getAttribute("data-events"));

  function swap(part) {
    var shown = document.getElementById(part.id);
    if (!shown || shown.getAttribute("data-state") === part.state) {
      return false;
    }
    var holder = document.createElement("template");
    holder.innerHTML = part.html.trim();
    var fresh = holder.content.firstElementChild;
    if (!fresh) {
      return false;
    }
    shown.querySelectorAll("details[open][data-fold]").forEach(function (open) {
      var again = fresh.querySelector('details[data-fold="' + open.getAttribute("data-fold") + '"]');
      if (again) {
        again.open = true;  /* what the reader opened stays open */
      }
    });
    var focused = shown.contains(document.activeElement) ? document.activeElement : null;
    var statusChanged = shown.getAttribute("data-status") !== fresh.getAttribute("data-status");
    shown.replaceWith(fresh);
    if (focused) {  /* the focus stays where it was, or on the part when its control went away (a run that ended) */
      var same = focused.id && document.getElementById(focused.id);
      (same || fresh).focus();
    }
    return statusChanged;
  }

  var PROGRESS_EVERY = 10000;  /* ms: a step's progress is said at most this often (its text on the page is live) */
  var progressSaid = 0;

  source.addEventListener("run", function (event) {
    var changes = JSON.parse(event.data);
    var said = [];
    var progress = [];
    changes.parts.forEach(function (part) {
      if (swap(part) && part.said) {
        said.push(part.said);
      } else if (part.progress) {
        progress.push(part.progress);
      }
    });
    if (!said.length && progress.length && Date.now() - progressSaid >= PROGRESS_EVERY) {
      said = progress;
      progressSaid = Date.now();
    }
    if (said.length) {
      announcer.textContent = said.join(" ");
    }
    if (changes.finished) {
      live.removeAttribute("data-events");
    }
  });
  source.addEventListener("end", function () {
    source.close();
    live.removeAttribute("data-events");
  });
}());
