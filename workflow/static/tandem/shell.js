/* Tandem's shell (templates/tandem/page.html), loaded in the head of every page.
 *
 * - Narrow screens: the "Menu" button shows and hides the menu and the account
 *   links (aria-expanded); Escape closes them and gives the focus back to the
 *   button. Nothing traps the focus. Without this script the menu stays shown.
 * - A form sent back with errors: the summary at the top of the page takes the
 *   focus; its links move the focus to their field.
 */
(function () {
  "use strict";

  // Before the body is drawn: the narrow-screen styles fold the menu only then.
  document.documentElement.classList.add("tandem-js");

  function menu() {
    var button = document.querySelector("[data-tandem-menu-button]");
    if (!button) return;
    var panel = document.getElementById(button.getAttribute("aria-controls"));
    if (!panel) return;

    function isOpen() {
      return button.getAttribute("aria-expanded") === "true";
    }
    function show(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      panel.classList.toggle("tandem-panel--open", open);
    }

    button.addEventListener("click", function () {
      show(!isOpen());
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !isOpen()) return;
      // Only while the button is shown (narrow screens).
      if (button.offsetParent === null) return;
      show(false);
      button.focus();
    });
  }

  function errorSummary() {
    var summary = document.querySelector("[data-tandem-error-summary]");
    if (!summary) return;
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-tandem-field-link]");
      if (!link) return;
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      field.focus();
      field.scrollIntoView({ block: "center" });
    });
  }

  function start() {
    menu();
    errorSummary();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
