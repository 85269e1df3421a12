// The testers' result grid: move with the arrow keys (or j / k), choose a result
// with its letter, confirm with Enter; Enter with no result chosen opens the case.
// Each result is saved at once; nothing is lost if the browser closes afterwards.
// « s » (or Space) ticks a case: a result then goes to every ticked case in one
// request (asked again above 20 cases). « c » moves to the comment field: what is
// typed there goes with the next result. The tools above the table do the same
// with the mouse. Every save is told in the status line (read by screen readers).
// Turbo draws later pages in the same document without running this script again:
// the grid is set up on every page Turbo draws, once per grid.
(function () {
  "use strict";

  // Above this many cases, a result for the ticked cases is asked again.
  const CONFIRM_ABOVE = 20;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return name in values ? String(values[name]) : whole;
    });
  }

  function setUp() {
    const grid = document.querySelector("[data-tandem-grid]");
    if (!grid || grid.dataset.tandemReady) return;
    grid.dataset.tandemReady = "1";
    const texts = grid.dataset;
    const url = grid.dataset.recordUrl;
    const csrf = grid.querySelector("input[name=csrfmiddlewaretoken]").value;
    const status = document.getElementById("tandem-grid-status");
    const keys = JSON.parse(grid.dataset.keys); // letter -> result value
    const rows = Array.from(grid.querySelectorAll("tbody tr[data-case]"));
    const comment = document.getElementById("tandem-grid-comment");
    const commentLabel = document.getElementById("tandem-grid-comment-label");
    const selection = document.getElementById("tandem-grid-selection");
    const resultChoice = document.getElementById("tandem-grid-result");
    const all = grid.querySelector("[data-select-all]");
    const commentDefault = commentLabel ? commentLabel.textContent : "";
    let current = rows[0] || null; // the case a result goes to when none is ticked
    let pending = ""; // a result chosen for the ticked cases, saved by Entrée

    function box(row) {
      return row.querySelector("[data-select]");
    }

    function ticked() {
      return rows.filter(function (row) { return box(row) && box(row).checked; });
    }

    function labelOf(result) {
      // The keyboard help above the grid names each result.
      const label = document.querySelector("[data-label-for='" + result + "']");
      return label ? label.textContent : result;
    }

    function focusRow(index) {
      if (!rows.length) return;
      const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
      row.focus();
    }

    function announce(text) {
      status.textContent = text;
    }

    // What the tools say: how many cases are ticked, who the comment is for.
    function describe() {
      const chosen = ticked();
      const n = chosen.length;
      if (selection) {
        selection.textContent = n === 0
          ? fill(texts.selectedNoneText, {reference: current ? current.dataset.reference : ""})
          : fill(n === 1 ? texts.selectedOneText : texts.selectedManyText, {n: n});
      }
      if (commentLabel) {
        commentLabel.textContent = n > 0
          ? fill(texts.commentSelectionText, {n: n})
          : current ? fill(texts.commentCaseText, {reference: current.dataset.reference})
            : commentDefault;
      }
      if (all) {
        all.checked = n > 0 && n === rows.length;
        all.indeterminate = n > 0 && n < rows.length;
      }
      if (n === 0) pending = "";
    }

    function clearPending() {
      pending = "";
      rows.forEach(function (row) {
        delete row.dataset.pending;
        row.classList.remove("tandem-row-pending");
      });
    }

    // Save `result` for `targets` (rows) in one request, with the comment typed.
    async function save(targets, result) {
      const note = comment ? comment.value.trim() : "";
      const bulk = targets.length > 1 || ticked().length > 0;
      if (targets.length > CONFIRM_ABOVE
          && !window.confirm(fill(texts.bulkConfirmText, {label: labelOf(result), n: targets.length}))) {
        announce(texts.cancelledText);
        return;
      }
      targets.forEach(function (row) { row.setAttribute("aria-busy", "true"); });
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
          body: JSON.stringify({
            results: targets.map(function (row) {
              return {case: row.dataset.case, result: result, comment: note};
            }),
          }),
        });
        const body = await response.json();
        if (!response.ok) {
          announce(body.error || texts.errorText);
          targets.forEach(function (row) { row.classList.add("tandem-row-error"); });
          return;
        }
        const figures = document.getElementById("tandem-grid-figures");
        if (figures && body.summary) {
          figures.textContent = body.summary;
        }
        let label = labelOf(result);
        body.saved.forEach(function (saved) {
          const row = rows.find(function (r) { return r.dataset.case === String(saved.case); });
          if (!row) return;
          row.dataset.result = saved.result;
          row.querySelector("[data-result-label]").textContent = saved.label;
          row.classList.remove("tandem-row-pending", "tandem-row-error");
          if (box(row)) box(row).checked = false;
          label = saved.label;
        });
        if (comment) comment.value = "";
        clearPending();
        describe();
        const said = bulk
          ? fill(texts.bulkSavedText, {label: label, n: body.saved.length})
          : targets[0].dataset.reference + " : " + label;
        announce((note ? said + ", " + texts.commentSavedText : said) + (bulk ? "." : ""));
        if (!bulk) focusRow(rows.indexOf(targets[0]) + 1);
      } catch (error) {
        targets.forEach(function (row) { row.classList.add("tandem-row-error"); });
        announce(texts.errorText);
      } finally {
        targets.forEach(function (row) { row.removeAttribute("aria-busy"); });
      }
    }

    // The ticked cases, else the case in hand.
    function targets() {
      const chosen = ticked();
      return chosen.length ? chosen : current ? [current] : [];
    }

    function tick(row) {
      const input = box(row);
      if (!input) return;
      input.checked = !input.checked;
      describe();
      const n = ticked().length;
      announce(row.dataset.reference + " — "
        + fill(n === 1 ? texts.selectedOneText : texts.selectedManyText, {n: n}));
    }

    rows.forEach(function (row, index) {
      row.addEventListener("focus", function () {
        current = row;
        describe();
      });
      row.addEventListener("click", function (event) {
        if (event.target === box(row)) {
          current = row;
          describe();
          return;
        }
        focusRow(index);
      });
      if (box(row)) box(row).addEventListener("change", describe);
      row.addEventListener("keydown", function (event) {
        if (event.altKey || event.ctrlKey || event.metaKey) return;
        const key = event.key.toLowerCase();
        if (key === "arrowdown" || key === "j") {
          event.preventDefault();
          focusRow(index + 1);
        } else if (key === "arrowup" || key === "k") {
          event.preventDefault();
          focusRow(index - 1);
        } else if (key === "s" || key === " ") {
          event.preventDefault();
          tick(row);
        } else if (key === "c" && comment) {
          // The comment field; Entrée there comes back here (or saves).
          event.preventDefault();
          current = row;
          describe();
          comment.focus();
        } else if (keys[key]) {
          event.preventDefault();
          const chosen = ticked();
          clearPending();
          if (chosen.length) {
            pending = keys[key];
            chosen.forEach(function (r) { r.classList.add("tandem-row-pending"); });
            announce(fill(texts.bulkPendingText, {label: labelOf(pending), n: chosen.length})
              + " — " + texts.confirmText);
          } else {
            row.dataset.pending = keys[key];
            row.classList.add("tandem-row-pending");
            announce(row.dataset.reference + " : " + labelOf(keys[key])
              + " — " + texts.confirmText);
          }
        } else if (key === "a" && grid.dataset.defectUrl) {
          // A defect about this case: its form comes with the campaign and case.
          event.preventDefault();
          window.location.assign(grid.dataset.defectUrl + row.dataset.case);
        } else if (key === "enter" && pending) {
          event.preventDefault();
          save(ticked(), pending);
        } else if (key === "enter" && row.dataset.pending) {
          event.preventDefault();
          const result = row.dataset.pending;
          delete row.dataset.pending;
          save([row], result);
        } else if (key === "enter") {
          // No result chosen: Entrée opens the case (its steps, evidence, history).
          event.preventDefault();
          const link = row.querySelector("a[href]");
          if (link) link.click();
        } else if (key === "escape") {
          clearPending();
        }
      });
    });

    if (comment) {
      comment.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          const result = pending || (current && current.dataset.pending);
          if (result) {
            if (current) delete current.dataset.pending;
            save(pending ? ticked() : [current], result);
          } else {
            announce(texts.commentReadyText);
          }
          if (current) current.focus();
        } else if (event.key === "Escape") {
          event.preventDefault();
          comment.value = "";
          if (current) current.focus();
        }
      });
    }
    const saveButton = grid.querySelector("[data-grid-save]");
    if (saveButton) {
      saveButton.addEventListener("click", function () {
        const chosen = targets();
        clearPending();
        if (!resultChoice.value) {
          announce(texts.chooseText);
          resultChoice.focus();
        } else if (chosen.length) {
          save(chosen, resultChoice.value);
        }
      });
    }
    const clearButton = grid.querySelector("[data-grid-clear]");
    if (clearButton) {
      clearButton.addEventListener("click", function () {
        rows.forEach(function (row) { if (box(row)) box(row).checked = false; });
        clearPending();
        describe();
      });
    }
    if (all) {
      all.addEventListener("change", function () {
        rows.forEach(function (row) { if (box(row)) box(row).checked = all.checked; });
        describe();
      });
    }
    describe();
    focusRow(0);
  }

  document.addEventListener("turbo:load", setUp);
  setUp();
})();
