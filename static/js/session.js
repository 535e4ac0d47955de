// The warning before the session ends, and the page that says it has.
// Timings come from <body data-session-*> (config PERMANENT_SESSION_LIFETIME and
// SESSION_WARNING_SECONDS). Every request renews the session on the server, so every page
// load and htmx answer restarts the count; tabs share their last activity through
// localStorage, so a forgotten tab does not end the session of the one in use.
(function () {
  "use strict";

  var body = document.body;
  var total = Number(body.dataset.sessionSecondes) * 1000;
  var warnBefore = Number(body.dataset.sessionAlerte) * 1000;
  var dialog = document.getElementById("session-alerte");
  if (!total || !dialog || !dialog.showModal) return;

  var KEY = "espace-recouvrement:derniere-activite";
  // The revocation goes a little before the cookie's end, while it still signs the POST.
  var END_MARGIN = Math.min(2000, total / 5);
  var mine = Date.now();
  var warnTimer = null;
  var endTimer = null;
  var countdown = null;
  var spoken = null;

  function lastActivity() {
    var shared = 0;
    try { shared = Number(window.localStorage.getItem(KEY)) || 0; } catch (e) { /* private mode */ }
    return Math.max(mine, shared);
  }

  function schedule() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    var idle = Date.now() - lastActivity();
    warnTimer = setTimeout(warn, Math.max(0, total - warnBefore - idle));
    // An already forgotten session is sent to the same page by the server.
    endTimer = setTimeout(end, Math.max(0, total - END_MARGIN - idle));
  }

  function touch() {
    mine = Date.now();
    try { window.localStorage.setItem(KEY, String(mine)); } catch (e) { /* private mode */ }
    stopCountdown();
    if (dialog.open) dialog.close();
    schedule();
  }

  function warn() {
    if (Date.now() - lastActivity() < total - warnBefore) { schedule(); return; }
    if (!dialog.open) dialog.showModal();
    spoken = null;
    tick();
    clearInterval(countdown);
    countdown = setInterval(tick, 1000);
  }

  function stopCountdown() {
    clearInterval(countdown);
    countdown = null;
  }

  // "45 secondes", "2 minutes", "ثانيتان"...: the server's text for the plural category.
  function words(span, seconds) {
    var inMinutes = seconds >= 60;
    var n = inMinutes ? Math.ceil(seconds / 60) : seconds;
    var forms = JSON.parse(span.getAttribute(inMinutes ? "data-minutes" : "data-secondes") || "{}");
    var category = window.Intl && Intl.PluralRules
      ? new Intl.PluralRules(document.documentElement.lang).select(n) : "other";
    var form = forms[category] || forms.other;
    return form ? form.replace("{n}", n) : null;
  }

  // The time left, on screen every second; spoken only at the minutes, 30 and 10 seconds
  // (the dialog's description says it when it opens): a reader is not talked over.
  function tick() {
    var span = document.getElementById("session-decompte");
    var left = Math.max(0, Math.ceil((lastActivity() + total - Date.now()) / 1000));
    var text = span && words(span, left);
    if (text) span.textContent = text;
    var status = document.getElementById("session-decompte-annonce");
    var sentence = document.getElementById("session-alerte-texte");
    if (spoken === null) spoken = left;  // the opening, read with the dialog
    if (status && sentence && left !== spoken && (left % 60 === 0 || left === 30 || left === 10)) {
      spoken = left;
      status.textContent = sentence.textContent;
    }
    if (!left) stopCountdown();
  }

  function end() {
    if (Date.now() - lastActivity() < total - END_MARGIN) { schedule(); return; }
    expire();
  }

  // Revoke the session on the server (POST, CSRF), which then shows the expiry page.
  function expire() {
    var form = document.getElementById("session-expiree");
    if (form) form.submit();
    else window.location.assign(body.dataset.sessionExpiree);
  }

  function stay() {
    var token = dialog.querySelector("input[name=csrf_token]");
    fetch(body.dataset.sessionProlonger, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      if (response.status !== 204) throw new Error("session ended");
      touch();
      var status = document.getElementById("session-annonce");
      if (status) status.textContent = status.dataset.message;
    }).catch(expire);
  }

  dialog.addEventListener("click", function (event) {
    if (event.target.closest("[data-prolonger-session]")) stay();
  });
  // Escape means "not now", not "sign me out": it keeps the session too.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    stay();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail && event.detail.successful) touch();
  });
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY) return;
    if (dialog.open && Date.now() - lastActivity() < total - warnBefore) dialog.close();
    schedule();
  });

  touch();
})();
