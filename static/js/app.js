// Progressive enhancement only: every step works without this file.
(function () {
  "use strict";

  // The print header's day is the day of printing, not of the page's loading.
  window.addEventListener("beforeprint", function () {
    var line = document.querySelector("[data-print-date]");
    if (!line) return;
    var d = new Date();
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    line.textContent = line.getAttribute("data-print-date")
      .replace("{date}", two(d.getDate()) + "/" + two(d.getMonth() + 1) + "/" + d.getFullYear());
  });

  // Keep the slider and the number field in step, and say "N mois" as it moves.
  function syncCount(n) {
    var range = document.getElementById("curseur");
    var field = document.getElementById("nombre_echeances");
    if (range && range.value !== String(n)) range.value = n;
    if (field && field.value !== String(n)) field.value = n;
    // "N mois" in the page's language: the server's text for the plural category of N
    // ("شهر واحد", "شهران", "6 أشهر", "11 شهرا"...), or else its last text, new number.
    if (range) {
      var forms = range.dataset.valuetexts ? JSON.parse(range.dataset.valuetexts) : null;
      var category = forms && window.Intl && Intl.PluralRules
        ? new Intl.PluralRules(document.documentElement.lang).select(Number(n)) : "other";
      var text = forms && (forms[category] || forms.other)
        ? (forms[category] || forms.other).replace("{n}", n)
        : (range.getAttribute("aria-valuetext") || "{n}").replace(/[0-9]+|\{n\}/, n);
      range.setAttribute("aria-valuetext", text);
    }
  }

  document.addEventListener("input", function (event) {
    var t = event.target;
    if (t.id === "curseur" || t.id === "nombre_echeances") {
      if (/^[0-9]+$/.test(t.value)) syncCount(t.value);
    }
  });

  // − / +: the count moves at the click, and each request sends the count shown, so
  // quick clicks all count (the form's data-hx-sync queues the newest request behind the one
  // in flight). An answer to an older count does not move the fields back.
  var lastSent = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest('button[name="action"]');
    var step = button ? { moins: -1, plus: 1 }[button.value] : 0;
    var field = document.getElementById("nombre_echeances");
    if (!step || !field || !/^[0-9]+$/.test(field.value)) return;
    syncCount(Math.min(Math.max(parseInt(field.value, 10) + step, +field.min || 1), +field.max || 60));
  }, true);

  document.addEventListener("htmx:configRequest", function (event) {
    var button = event.detail.elt;
    if (button && button.tagName === "DETAILS") return; // the détail's rows, not a simulation
    var field = document.getElementById("nombre_echeances");
    // The affiliate's move is a GET whose address is the simulation's: ?n=…&avance=…,
    // the count shown (− / + already applied by the click above) and the avance typed.
    var move = button && button.closest && button.closest("form[data-move]");
    if (move && event.detail.verb === "get" && field) {
      var avance = document.getElementById("avance");
      var params = { n: field.value };
      if (avance && avance.value.trim()) params.avance = avance.value;
      // Leaving the count after its own move (a click on "Détail des échéances") sends a
      // change for the panel on screen: nothing to ask, and the answer would replace the
      // panel under the click, which then never reaches the summary.
      var panel = document.getElementById("simulation-panel");
      var trigger = event.detail.triggeringEvent;
      if (trigger && trigger.type === "change" && trigger.target === field && panel &&
          lastSent === params.n && panel.dataset.n === params.n &&
          (panel.dataset.avance || "") === (params.avance || "")) {
        event.preventDefault();
        return;
      }
      lastSent = field.value;
      var form = event.detail.formData;
      if (form) {
        Array.from(form.keys()).forEach(function (k) { form.delete(k); });
        Object.keys(params).forEach(function (k) { form.set(k, params[k]); });
      } else {
        Object.keys(event.detail.parameters).forEach(function (k) { delete event.detail.parameters[k]; });
        Object.keys(params).forEach(function (k) { event.detail.parameters[k] = params[k]; });
      }
      return;
    }
    if (!field || !button || button.name !== "action" || !(button.value in { moins: 1, plus: 1 })) {
      if (field) lastSent = field.value;
      return;
    }
    lastSent = field.value;
    var data = event.detail.formData || null;
    [["nombre_echeances", field.value], ["curseur", field.value], ["action", "simuler"]].forEach(function (kv) {
      if (data) data.set(kv[0], kv[1]);
      else event.detail.parameters[kv[0]] = kv[1];
    });
  });

  // A swap replaces the panel: whoever had the focus (or an open "Détail des échéances")
  // inside it gets it back in the new panel, instead of the focus falling to the page.
  var FOCUSABLE = 'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';
  // By the id of the element a swap replaces: another answer (the détail's rows, into the
  // old panel) may be swapped between a panel's swap and its settling.
  var kept = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    // A refused simulation (422) is a panel with the messages beside the fields: show it.
    if (event.detail.xhr && event.detail.xhr.status === 422 && event.detail.target &&
        event.detail.target.id === "simulation-panel") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    var target = event.detail.target;
    if (!target || !target.id) return;
    var active = document.activeElement;
    kept[target.id] = {
      // A pager control is found again by what it does, not by its rank: the links
      // around the current page are not the same on the next page.
      pager: active && target.contains(active) && active.getAttribute("data-pager"),
      focus: active && active !== target && target.contains(active)
        ? Array.prototype.indexOf.call(target.querySelectorAll(FOCUSABLE), active) : -1,
      open: Array.prototype.map.call(target.querySelectorAll("details"), function (d) { return d.open; })
    };
  });

  // The focus at once, in the same task as the swap: there is no moment without it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var id = event.detail.target && event.detail.target.id;
    var was = id && kept[id];
    var panel = was && document.getElementById(id);
    if (!panel || was.focus < 0) return;
    // Only if the focus fell with the old panel: a user who tabbed on meanwhile stays put.
    var active = document.activeElement;
    var fell = !active || active === document.body || !active.isConnected;
    if (fell) {
      var again = was.pager ? pagerControl(panel, was.pager)
        : panel.querySelectorAll(FOCUSABLE)[was.focus];
      (again || panel).focus();
    }
  });

  // The pager control pressed, in the new pager: the same link; a page number pressed is
  // now the current page, focused where it stands; a link gone at either end of the list
  // (Suivant on the last page) hands the focus to the nearest one left on that side.
  var PAGER_NEIGHBOURS = { first: ["next", "last"], previous: ["next", "last"],
                           next: ["previous", "first"], last: ["previous", "first"] };
  function pagerControl(panel, key) {
    var keys = [key].concat(PAGER_NEIGHBOURS[key] || []);
    for (var i = 0; i < keys.length; i++) {
      var control = panel.querySelector('[data-pager="' + keys[i] + '"]');
      if (control && control.tagName === "A") return control;
      if (control && control.getAttribute("aria-current") === "page") {
        control.setAttribute("tabindex", "-1");
        return control;
      }
    }
    return null;
  }

  // The détail reopened once htmx has processed the new panel (it fetches its rows).
  document.addEventListener("htmx:afterSettle", function (event) {
    var id = event.detail.target && event.detail.target.id;
    var was = id && kept[id];
    if (!was) return;
    delete kept[id];
    var panel = document.getElementById(id);
    if (panel) {
      panel.querySelectorAll("details").forEach(function (d, i) { if (was.open[i]) d.open = true; });
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var panel = document.getElementById("simulation-panel");
    var shown = document.getElementById("nombre_echeances");
    if (panel && panel.dataset.n && (!shown || lastSent === null || shown.value === lastSent)) {
      syncCount(panel.dataset.n);
    }
    // Valider keeps the simulation on screen.
    var keepN = document.getElementById("valider-n");
    var keepAvance = document.getElementById("valider-avance");
    if (panel && keepN && panel.dataset.n) keepN.value = panel.dataset.n;
    if (panel && keepAvance && panel.dataset.n) keepAvance.value = panel.dataset.avance || "";
    // The fields stay (focus is kept); their error state follows the swapped messages.
    [["avance", "avance-aide"], ["nombre_echeances", "nombre-mois palier"], ["cgu", ""]].forEach(function (f) {
      var field = document.getElementById(f[0]);
      if (!field) return;
      var bad = !!document.getElementById(f[0] + "-erreur");
      var described = (f[1] + (bad ? " " + f[0] + "-erreur" : "")).trim();
      field.setAttribute("aria-invalid", bad ? "true" : "false");
      if (described) field.setAttribute("aria-describedby", described);
      else field.removeAttribute("aria-describedby");
    });
    var dialog = event.target.querySelector && event.target.querySelector("dialog[data-open-modal]");
    if (dialog && !dialog.open) {
      dialog.showModal();
      dialog.scrollTop = 0;
    }
  });

  // The Détail des échéances could not be fetched (connection lost, session over): say
  // so, with a link to the whole Simulation page, which has the rows.
  ["htmx:sendError", "htmx:responseError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var details = event.detail.elt;
      if (!details || details.tagName !== "DETAILS") return;
      var loading = details.querySelector("[data-rows-loading]");
      var failed = details.querySelector("[data-rows-failed]");
      if (loading) loading.hidden = true;
      if (failed) failed.hidden = false;
    });
  });

  // A refused htmx request (page gone, form expired, server error) answers one line
  // for the page's alert region: show it, where htmx would otherwise drop a 4xx/5xx.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#erreur-annonce") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Conditions générales: a <dialog> instead of a page when JavaScript runs.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-dialog]");
    if (link) {
      var dialog = document.getElementById(link.getAttribute("data-dialog"));
      if (dialog && dialog.showModal) {
        event.preventDefault();
        dialog.showModal();
      }
      return;
    }
    var accept = event.target.closest("[data-accept-conditions]");
    if (accept) {
      var box = document.getElementById(accept.getAttribute("data-accept-conditions"));
      if (box) box.checked = true;
      accept.closest("dialog").close();
      if (box) box.focus();
      return;
    }
    var close = event.target.closest("[data-close-dialog]");
    if (close) {
      close.closest("dialog").close();
      return;
    }
    if (event.target.closest("[data-print]")) window.print();
  });

  // A second click on Confirmer does nothing (the server also refuses a duplicate).
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("[data-once]");
    if (!button) return;
    if (button.dataset.sent) { event.preventDefault(); return; }
    button.dataset.sent = "1";
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-print]").forEach(function (b) { b.hidden = false; });
    // A refused form: start from the error summary, whose links lead to the fields.
    var summary = document.getElementById("resume-erreurs");
    if (summary) summary.focus();
  });
})();
