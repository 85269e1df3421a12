// viewflow's confirmation pages (delete, assign, unassign, import, export) give their
// "Back" link an inline onclick="window.history.back(-1)…", which Tandem's
// Content-Security-Policy blocks (no inline script). One listener on the document
// does the same, for these pages and for those Turbo swaps in later.
(function () {
  "use strict";
  if (window.tandemBackButtons) return;
  window.tandemBackButtons = true;
  document.addEventListener("click", function (event) {
    const link = event.target.closest('a[onclick*="history.back"]');
    if (!link) return;
    event.preventDefault();
    window.history.back();
    if (link.getAttribute("onclick").includes("Turbo.visit")) {
      // As viewflow does after (un)assigning: reload the page gone back to.
      setTimeout(function () {
        window.Turbo.visit(".");
      }, 100);
    }
  });
})();
