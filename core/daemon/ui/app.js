// ferry's status page: live updates.  The page is whole without this
// script; with it, every event the daemon sends over Server-Sent Events
// (/ui/stream) has the page ask for itself again and swap in the new
// <main>, which the daemon rendered and escaped.  Nothing received is
// ever written into the page as markup.
(function () {
  "use strict";

  var live = document.getElementById("live");
  var pending = null;
  var busy = false;
  var again = false;
  var opened = false;

  function show(text, on) {
    if (!live) return;
    live.hidden = false;
    live.textContent = text;
    live.classList.toggle("off", !on);
  }

  function refresh() {
    pending = null;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        var main = document.getElementById("main");
        var open = document.activeElement;
        // Leave the page alone while someone is choosing in a form.
        if (open && open.tagName === "SELECT" && main.contains(open)) return;
        if (fresh && main) {
          main.replaceWith(document.adoptNode(fresh));
          wire();
        }
      })
      .catch(function () {
        show("reconnecting", false);
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  function schedule() {
    if (pending === null) pending = setTimeout(refresh, 150);
  }

  // Filters apply as soon as they change.
  function wire() {
    var sel = document.querySelectorAll("select[data-autosubmit]");
    for (var i = 0; i < sel.length; i++) {
      sel[i].addEventListener("change", function (e) {
        e.target.form.submit();
      });
    }
  }

  wire();
  if (!window.EventSource) return;
  var es = new EventSource("/ui/stream");
  es.addEventListener("open", function () {
    show("live", true);
    // After a lost connection the page may have missed something.
    if (opened) schedule();
    opened = true;
  });
  es.addEventListener("change", schedule);
  es.addEventListener("error", function () {
    show("reconnecting", false);
  });
})();
