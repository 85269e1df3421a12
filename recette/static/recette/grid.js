// The testers' result grid: move with the arrow keys (or j / k), choose a result
// with its letter, confirm with Enter; Enter with no result chosen opens the case.
// Each result is saved at once; nothing is lost if the browser closes afterwards.
// Turbo draws later pages in the same document without running this script again:
// the grid is set up on every page Turbo draws, once per grid.
(function () {
  "use strict";

  function setUp() {
    const grid = document.querySelector("[data-tandem-grid]");
    if (!grid || grid.dataset.tandemReady) return;
    grid.dataset.tandemReady = "1";
    const url = grid.dataset.recordUrl;
    const csrf = grid.querySelector("input[name=csrfmiddlewaretoken]").value;
    const status = document.getElementById("tandem-grid-status");
    const keys = JSON.parse(grid.dataset.keys); // letter -> result value
    const rows = Array.from(grid.querySelectorAll("tbody tr[data-case]"));

    function focusRow(index) {
      if (!rows.length) return;
      const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
      row.focus();
    }

    function announce(text) {
      status.textContent = text;
    }

    async function save(row, result) {
      row.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          // JSON both ways: a refusal comes back as {"error": …} too.
          headers: {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-CSRFToken": csrf,
          },
          body: JSON.stringify({results: [{case: row.dataset.case, result: result}]}),
        });
        const body = await response.json();
        if (!response.ok) {
          announce(body.error || grid.dataset.errorText);
          row.classList.add("tandem-row-error");
          return;
        }
        const saved = body.saved[0];
        const figures = document.getElementById("tandem-grid-figures");
        if (figures && body.summary) {
          figures.textContent = body.summary;
        }
        row.dataset.result = saved.result;
        row.querySelector("[data-result-label]").textContent = saved.label;
        row.classList.remove("tandem-row-pending", "tandem-row-error");
        announce(row.dataset.reference + " : " + saved.label);
        focusRow(rows.indexOf(row) + 1);
      } catch (error) {
        row.classList.add("tandem-row-error");
        announce(grid.dataset.errorText);
      } finally {
        row.removeAttribute("aria-busy");
      }
    }

    rows.forEach(function (row, index) {
      row.addEventListener("click", function () { focusRow(index); });
      row.addEventListener("keydown", function (event) {
        if (event.altKey || event.ctrlKey || event.metaKey) return;
        const key = event.key.toLowerCase();
        if (key === "arrowdown" || key === "j") {
          event.preventDefault();
          focusRow(index + 1);
        } else if (key === "arrowup" || key === "k") {
          event.preventDefault();
          focusRow(index - 1);
        } else if (keys[key]) {
          event.preventDefault();
          row.dataset.pending = keys[key];
          row.classList.add("tandem-row-pending");
          const label = grid.querySelector("[data-label-for='" + keys[key] + "']");
          announce(row.dataset.reference + " : " + (label ? label.textContent : keys[key])
            + " — " + grid.dataset.confirmText);
        } else if (key === "enter" && row.dataset.pending) {
          event.preventDefault();
          const result = row.dataset.pending;
          delete row.dataset.pending;
          save(row, result);
        } else if (key === "enter") {
          // No result chosen: Entrée opens the case (its steps, evidence, history).
          event.preventDefault();
          const link = row.querySelector("a[href]");
          if (link) link.click();
        }
      });
    });
    focusRow(0);
  }

  document.addEventListener("turbo:load", setUp);
  setUp();
})();
