// Small additions on top of htmx. The portal works without this file.
(function () {
  "use strict";
  function alertBox(html) {
    var region = document.getElementById("alerts");
    if (!region) { return; }
    region.innerHTML = html;
    var box = region.firstElementChild;
    if (box) { box.setAttribute("tabindex", "-1"); box.focus(); }
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseText && xhr.getResponseHeader("Content-Type").indexOf("text/html") === 0) {
      alertBox(xhr.responseText);
    }
  });
  document.addEventListener("htmx:sendError", function () {
    alertBox('<div class="error-box" role="alert"><p><strong>Connexion impossible.</strong> ' +
      "Vérifiez votre connexion à Internet, puis réessayez.</p></div>");
  });
  // After a form comes back with errors, put the keyboard on the first one;
  // after a change, on the message that says what was done (data-focus-after-swap).
  document.addEventListener("htmx:afterSwap", function (event) {
    var xhr = event.detail.xhr;
    var said = document.querySelector("[data-focus-after-swap]");
    if (xhr && xhr.status === 200 && said) {
      said.removeAttribute("data-focus-after-swap");
      said.focus();
      return;
    }
    if (!xhr || (xhr.status !== 422 && xhr.status !== 429)) { return; }
    var summary = document.querySelector(".error-summary");
    var first = summary || document.querySelector("[aria-invalid=true]");
    if (first) { first.focus(); }
  });
  // A swap that takes away the control the keyboard was on (« Modifier » opens
  // its form in place, « Enregistrer » shows the section again) puts the
  // keyboard in what came in: the form's first field, else its heading.
  var focusWasIn = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var target = event.detail.target;
    focusWasIn = active && active !== document.body && target && target.contains(active) ? target : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var active = document.activeElement;
    if (!focusWasIn || (active && active !== document.body && active.isConnected)) { return; }
    var box = event.target;
    if (!box || !box.isConnected || !box.querySelector) { return; }
    var next = box.querySelector("form input:not([type=hidden]), form select, form textarea") ||
      box.querySelector("h1, h2, h3, h4");
    if (!next) { return; }
    if (!next.matches("input, select, textarea")) { next.setAttribute("tabindex", "-1"); }
    focusWasIn = null;
    next.focus();
  });
  // The form that goes to the bank leaves by itself; without JavaScript, its button.
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-autosubmit]");
    if (form) { form.submit(); }
  });
  // Upload progress on a slow connection (the form still works without it).
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target && event.target.closest ? event.target.closest("form") : null;
    var box = form && form.querySelector(".upload-progress");
    if (!box || !event.detail.lengthComputable || !event.detail.total) { return; }
    var percent = Math.round(event.detail.loaded / event.detail.total * 100);
    box.hidden = false;
    box.querySelector("progress").value = percent;
    var text = box.querySelector(".upload-percent");
    if (text && (percent === 100 || percent % 25 === 0)) { text.textContent = percent + " %"; }
  });
})();
