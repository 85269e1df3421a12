// The testers' result grid: move with the arrow keys (or j / k), choose a result
// with its letter, confirm with Entrée; Entrée with no result chosen opens the case.
// « s » (or Space) ticks a case: a result then goes to every ticked case (asked
// again above 20 cases). « c » moves to the comment field: what is typed there goes
// with the next result. The tools above the table do the same with the mouse.
// Every save is told in the status line (read by screen readers).
//
// Results are sent in batches, not one request each: a result confirmed joins a
// queue, sent as one request when the tester pauses (data-idle-ms), when the queue
// is full (data-batch-max), before the grid is left for another page, and when the
// page is hidden or closed (a keepalive request, which outlives the page and keeps
// the CSRF header; sendBeacon could not send that header with a JSON body). Until
// the server acknowledges it, a result stays in localStorage, one item per result
// under a key of the campaign and the user: a grid opened again sends what is
// left. Each result carries a key of its own, saved with it, so that a result sent
// twice (the page closed before the answer came) is saved once.
//
// The counts above the grid follow the answers: per case touched, the result it had
// (`previous`) and has now (`result`). They start from the page's counts and move
// by the change from what this page showed of the case, which also counts a result
// another tester recorded meanwhile on a case this tester then changed.
//
// Turbo draws later pages in the same document without running this script again:
// the grid is set up on every page Turbo draws, once per grid.
(function () {
  "use strict";

  // Above this many cases, a result for the ticked cases is asked again.
  const CONFIRM_ABOVE = 20;
  // A keepalive request may carry 64 KiB at most (all of the page's together).
  const KEEPALIVE_BYTES = 60000;
  // The server takes this many results in one request at most.
  const SERVER_MAX = 1000;
  // Leaving the grid waits this long at most for the queue to be saved; what is
  // left goes with the page's last request, and stays in localStorage anyway.
  const LEAVE_WAIT_MS = 3000;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return name in values ? String(values[name]) : whole;
    });
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // Pages served over plain HTTP have no randomUUID.
    const bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // localStorage may be refused (private browsing, quota): the queue then lives in
  // the page only.
  const store = {
    put: function (name, value) {
      try { window.localStorage.setItem(name, JSON.stringify(value)); } catch (error) { /* kept in the page */ }
    },
    remove: function (name) {
      try { window.localStorage.removeItem(name); } catch (error) { /* nothing kept */ }
    },
    all: function (prefix) {
      const found = [];
      try {
        for (let i = 0; i < window.localStorage.length; i += 1) {
          const name = window.localStorage.key(i);
          if (name && name.indexOf(prefix) === 0) {
            try { found.push(JSON.parse(window.localStorage.getItem(name))); } catch (error) { /* skipped */ }
          }
        }
      } catch (error) { /* nothing kept */ }
      return found;
    },
  };

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
    const figures = document.getElementById("tandem-grid-figures");
    const commentDefault = commentLabel ? commentLabel.textContent : "";
    const batchMax = Math.max(1, Math.min(SERVER_MAX, Number(grid.dataset.batchMax) || 50));
    const idleMs = Math.max(0, Number(grid.dataset.idleMs) || 1500);
    const retryMs = Math.max(5000, 4 * idleMs);
    const prefix = grid.dataset.queueKey;
    const rowOf = new Map(rows.map(function (row) { return [row.dataset.case, row]; }));
    const counts = figures && figures.dataset.counts ? JSON.parse(figures.dataset.counts) : null;
    let current = rows[0] || null; // the case a result goes to when none is ticked
    let pending = ""; // a result chosen for the ticked cases, saved by Entrée

    // The queue: results confirmed and not yet acknowledged, in the order typed.
    let queue = [];
    const flights = new Set(); // requests sent, answer awaited
    const leftWith = new Set(); // keys sent as the page was hidden, answer awaited
    const actions = new Map(); // what the tester did, told once all of it is saved
    let done = []; // actions saved since the last announcement
    let timer = null;
    let retryTold = false;
    let leaving = false;

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

    // A result chosen and not confirmed is forgotten; a row whose result waits
    // for the server stays marked.
    function clearPending() {
      pending = "";
      rows.forEach(function (row) {
        delete row.dataset.pending;
        if (!waitingFor(row).length) row.classList.remove("tandem-row-pending");
      });
    }

    // --- the queue -------------------------------------------------------------

    function waitingFor(row) {
      return queue.filter(function (entry) { return String(entry.case) === row.dataset.case; });
    }

    // The row as the queue leaves it: marked and busy while one of its results
    // waits, showing the last one typed; else the result the server has.
    function showRow(row) {
      const waiting = waitingFor(row);
      const label = row.querySelector("[data-result-label]");
      if (waiting.length) {
        row.classList.add("tandem-row-pending");
        row.classList.remove("tandem-row-error");
        row.setAttribute("aria-busy", "true");
        label.textContent = fill(texts.queuedLabelText, {label: labelOf(waiting[waiting.length - 1].result)});
      } else {
        if (!row.dataset.pending) row.classList.remove("tandem-row-pending");
        row.removeAttribute("aria-busy");
        label.textContent = labelOf(row.dataset.result);
      }
    }

    function showSummary() {
      if (!counts) return;
      let planned = 0;
      Object.keys(counts).forEach(function (result) { planned += counts[result]; });
      const run = planned - (counts[figures.dataset.toRun] || 0);
      // The singular for 1 alone, as the page's own sentence (ngettext, whose
      // rule for these strings is n != 1 in French, their source, and in English).
      figures.textContent = fill(run === 1 ? figures.dataset.summaryOneText : figures.dataset.summaryManyText,
        {run: run, planned: planned});
    }

    // Results for `targets` (rows) join the queue, kept in localStorage first.
    function enqueue(targets, result) {
      const note = comment ? comment.value.trim() : "";
      const bulk = targets.length > 1 || ticked().length > 0;
      if (targets.length > CONFIRM_ABOVE
          && !window.confirm(fill(texts.bulkConfirmText, {label: labelOf(result), n: targets.length}))) {
        announce(texts.cancelledText);
        return;
      }
      const action = {
        bulk: bulk,
        reference: targets[0].dataset.reference,
        label: labelOf(result),
        note: note,
        n: targets.length,
        left: new Set(),
      };
      const at = Date.now();
      targets.forEach(function (row, index) {
        const entry = {key: newKey(), case: row.dataset.case, result: result, comment: note, at: at, order: index};
        store.put(prefix + entry.key, entry);
        queue.push(entry);
        action.left.add(entry.key);
        actions.set(entry.key, action);
        if (box(row)) box(row).checked = false;
        delete row.dataset.pending;
        showRow(row);
      });
      if (comment) comment.value = "";
      pending = "";
      describe();
      const what = bulk
        ? fill(texts.bulkPendingText, {label: action.label, n: action.n})
        : action.reference + " : " + action.label;
      announce(fill(texts.queuedText, {what: note ? what + ", " + texts.commentSavedText : what}));
      if (!bulk) focusRow(rows.indexOf(targets[0]) + 1);
      later();
    }

    // Send when the tester pauses, at once when the queue is full.
    function later() {
      window.clearTimeout(timer);
      if (queue.length >= batchMax) {
        drain();
      } else if (queue.length) {
        timer = window.setTimeout(drain, idleMs);
      }
    }

    // Send the queue batch after batch, one request at a time (a case typed twice
    // keeps its order); true once all is saved.
    async function drain() {
      window.clearTimeout(timer);
      for (;;) {
        if (flights.size) {
          const answered = await Promise.all(Array.from(flights));
          if (answered.indexOf(false) >= 0) return false;
          continue;
        }
        const batch = queue.slice(0, batchMax);
        if (!batch.length) return true;
        if (!(await launch(batch))) return false;
      }
    }

    function launch(batch) {
      const flight = send(batch).finally(function () { flights.delete(flight); });
      flights.add(flight);
      return flight;
    }

    function body(batch) {
      return JSON.stringify({
        results: batch.map(function (entry) {
          return {key: entry.key, case: entry.case, result: entry.result, comment: entry.comment};
        }),
      });
    }

    function size(text) {
      return new TextEncoder().encode(text).length;
    }

    // One request; true when its results are saved, or refused alone.
    async function send(batch) {
      const text = body(batch);
      let response = null;
      let answer = null;
      try {
        response = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          keepalive: size(text) < KEEPALIVE_BYTES,
          // JSON both ways: a refusal comes back as {"error": …} too.
          headers: {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-CSRFToken": csrf,
          },
          body: text,
        });
        answer = await response.json();
      } catch (error) {
        answer = null;
      }
      if (response && response.ok && answer && answer.acknowledged) {
        acknowledge(answer);
        return true;
      }
      if (response && response.status >= 400 && response.status < 500) {
        return refuse(batch, answer && answer.error, response.status);
      }
      // No answer, or the server failed: kept, sent again in a moment.
      if (!retryTold) announce(texts.retryText);
      retryTold = true;
      window.clearTimeout(timer);
      timer = window.setTimeout(drain, retryMs);
      return false;
    }

    function forget(entry) {
      store.remove(prefix + entry.key);
      const action = actions.get(entry.key);
      actions.delete(entry.key);
      return action;
    }

    function acknowledge(answer) {
      retryTold = false;
      const saved = new Set(answer.acknowledged);
      queue = queue.filter(function (entry) {
        if (!saved.has(entry.key)) return true;
        const action = forget(entry);
        if (action) {
          action.left.delete(entry.key);
          if (!action.left.size) done.push(action);
        }
        return false;
      });
      answer.cases.forEach(function (change) {
        const row = rowOf.get(String(change.case));
        // From what this page showed: the server's previous result differs when
        // another tester recorded the case meanwhile, a change the page had not
        // counted yet.
        const shown = row ? row.dataset.result : change.previous;
        if (counts && shown !== change.result) {
          counts[shown] = Math.max(0, (counts[shown] || 0) - 1);
          counts[change.result] = (counts[change.result] || 0) + 1;
        }
        if (row) {
          row.dataset.result = change.result;
          showRow(row);
        }
      });
      showSummary();
      if (!queue.length) tell();
    }

    // Once the queue is empty: what was saved, in the words used when it was typed.
    function tell() {
      if (!done.length) return;
      const told = done;
      done = [];
      if (told.length > 1) {
        let n = 0;
        told.forEach(function (action) { n += action.n; });
        announce(fill(texts.manySavedText, {n: n}));
        return;
      }
      const action = told[0];
      if (action.resumed) {
        announce(texts.resumedSavedText);
        return;
      }
      const said = action.bulk
        ? fill(texts.bulkSavedText, {label: action.label, n: action.n})
        : action.reference + " : " + action.label;
      announce((action.note ? said + ", " + texts.commentSavedText : said) + (action.bulk ? "." : ""));
    }

    // A refusal will not change by sending again: the results go, their rows say
    // so. A closed campaign or a lost role refuses the whole queue; a result
    // refused (400) its batch only, and the queue goes on.
    function refuse(batch, message, code) {
      const refused = code === 400 ? batch : queue.slice();
      const gone = new Set(refused.map(function (entry) { return entry.key; }));
      refused.forEach(forget);
      queue = queue.filter(function (entry) { return !gone.has(entry.key); });
      refused.forEach(function (entry) {
        const row = rowOf.get(String(entry.case));
        if (!row) return;
        showRow(row);
        row.classList.add("tandem-row-error");
      });
      done = [];
      announce(message || texts.errorText);
      return code === 400;
    }

    // The page is hidden or closed: everything not yet saved, in one request
    // that outlives the page (those of a batch on its way too: in one request
    // the order is kept, and the server saves a result sent twice once). Hidden
    // then closed, the page sends nothing twice.
    function flushNow() {
      window.clearTimeout(timer);
      if (queue.every(function (entry) { return leftWith.has(entry.key); })) return;
      let batch = queue.slice(0, SERVER_MAX);
      while (batch.length > 1 && size(body(batch)) >= KEEPALIVE_BYTES) {
        batch = batch.slice(0, Math.ceil(batch.length / 2));
      }
      batch.forEach(function (entry) { leftWith.add(entry.key); });
      launch(batch).then(function () {
        batch.forEach(function (entry) { leftWith.delete(entry.key); });
      });
    }

    // Leave for another page once the queue is saved (or after a few seconds:
    // what is left goes with the page's last request).
    function whenSaved(go) {
      if (!queue.length) {
        go();
        return;
      }
      leaving = true;
      announce(texts.savingText);
      Promise.race([
        drain(),
        new Promise(function (resolve) { window.setTimeout(resolve, LEAVE_WAIT_MS); }),
      ]).finally(function () {
        go();
        leaving = false;
      });
    }

    // Results typed on an earlier visit and never acknowledged: shown, sent again.
    const kept = store.all(prefix).filter(function (entry) {
      return entry && entry.key && entry.case && entry.result;
    });
    if (kept.length) {
      kept.sort(function (a, b) { return (a.at - b.at) || (a.order - b.order); });
      const action = {resumed: true, n: kept.length, left: new Set()};
      kept.forEach(function (entry) {
        queue.push(entry);
        action.left.add(entry.key);
        actions.set(entry.key, action);
      });
      queue.forEach(function (entry) {
        const row = rowOf.get(String(entry.case));
        if (row) showRow(row);
      });
      announce(texts.resumeText);
      drain();
    }

    window.addEventListener("pagehide", function () {
      if (queue.length) flushNow();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && queue.length) flushNow();
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && queue.length) drain();
    });
    window.addEventListener("online", function () {
      if (queue.length) drain();
    });
    // A link followed or a form sent from this page: the next page shows the
    // results only once they are saved.
    document.addEventListener("click", function (event) {
      if (!queue.length || leaving || !grid.isConnected || event.defaultPrevented) return;
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const link = event.target.closest && event.target.closest("a[href]");
      if (!link || (link.target && link.target !== "_self") || link.hasAttribute("download")) return;
      if (link.origin !== window.location.origin || link.getAttribute("href").charAt(0) === "#") return;
      event.preventDefault();
      whenSaved(function () { window.location.assign(link.href); });
    });
    document.addEventListener("submit", function (event) {
      if (!queue.length || leaving || !grid.isConnected || event.defaultPrevented) return;
      const form = event.target;
      event.preventDefault();
      whenSaved(function () { form.requestSubmit(event.submitter || undefined); });
    });

    // --- the keys and the tools ----------------------------------------------

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
          // A defect about this case: its form comes with the campaign and case
          // (and, once saved, the result just typed).
          event.preventDefault();
          whenSaved(function () { window.location.assign(grid.dataset.defectUrl + row.dataset.case); });
        } else if (key === "enter" && pending) {
          event.preventDefault();
          enqueue(ticked(), pending);
        } else if (key === "enter" && row.dataset.pending) {
          event.preventDefault();
          const result = row.dataset.pending;
          delete row.dataset.pending;
          enqueue([row], result);
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
            enqueue(pending ? ticked() : [current], result);
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
          enqueue(chosen, resultChoice.value);
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
