// Support Intel dashboard behaviour. htmx does the swapping; this file configures it and adds what plain
// HTML cannot: the filters following the URL on back/forward, bulk selection, keyboard shortcuts, the copy
// button and the "lost contact" notice. Everything still works as plain links and forms without JavaScript.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      // Form errors come back as 422 with the form re-rendered: swap them in like a success.
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "422", swap: true },
        { code: "400", swap: true },
        { code: "[45]..", swap: false, error: true },
        { code: "...", swap: false },
      ];
      // Re-fetch the full page when going back to a URL not in htmx's history cache.
      htmx.config.refreshOnHistoryMiss = true;
    }
    syncFilters();
    // On a phone the filters start folded unless some are set, so the list is what one sees first.
    var box = document.querySelector("[data-collapse-on-phone]");
    if (box && window.matchMedia("(max-width: 760px)").matches && !location.search.replace(/^\?/, "")) {
      box.removeAttribute("open");
    }
    refreshBulk();
  });

  // --- The filter form follows the URL -------------------------------------------------------------
  // htmx restores a page from its history snapshot, which keeps the controls as first rendered, not as
  // the URL says: set every control from the URL (or its default) after a restore or a back/forward.
  function syncFilters() {
    var form = document.getElementById("filters");
    if (!form) return;
    var params = new URLSearchParams(location.search);
    var defaults = JSON.parse(form.getAttribute("data-defaults") || "{}");
    Array.prototype.forEach.call(form.elements, function (control) {
      if (!control.name || control.type === "submit") return;
      var value = params.has(control.name) ? params.get(control.name) : defaults[control.name] || "";
      if (control.value !== value) control.value = value;
    });
  }
  document.addEventListener("htmx:historyRestore", syncFilters);
  window.addEventListener("pageshow", syncFilters);
  window.addEventListener("popstate", function () { setTimeout(syncFilters, 0); });

  // --- Bulk actions ----------------------------------------------------------------------------------
  function bulkForm(element) {
    return element.closest("form") || document.getElementById("bulk-form");
  }
  function boxes(form) {
    return document.querySelectorAll('input[type=checkbox][name=ids][form="' + form.id + '"], #' + form.id + " input[type=checkbox][name=ids]");
  }
  function refreshBulk() {
    document.querySelectorAll("[data-bulk]").forEach(function (bar) {
      var form = bulkForm(bar);
      var all = bar.querySelector("input[name=scope]");
      var picked = Array.prototype.filter.call(boxes(form), function (box) { return box.checked; }).length;
      var counter = bar.querySelector("[data-selected-count]");
      if (counter) counter.textContent = all && all.checked ? "all matching tickets" : picked + " selected";
      var action = bar.querySelector("[data-bulk-action]");
      bar.querySelectorAll("[data-for]").forEach(function (field) {
        field.classList.toggle("shown", !!action && field.getAttribute("data-for") === action.value);
      });
    });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-page]")) {
      boxes(bulkForm(target)).forEach(function (box) { box.checked = target.checked; });
    }
    if (target.closest("[data-bulk]") || target.name === "ids") refreshBulk();
  });
  document.addEventListener("htmx:afterSettle", refreshBulk);
  // "All matching the filter" can change up to a thousand tickets in one click: ask first.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    var all = form.matches && form.matches("form[data-bulk-form]") && form.querySelector("input[name=scope]");
    if (!all || !all.checked) return;
    event.preventDefault();
    var action = form.querySelector("[data-bulk-action]");
    var what = action ? action.options[action.selectedIndex].text : "this action";
    if (window.confirm(what + ": apply to all " + all.getAttribute("data-matching") + " tickets matching the filter?")) {
      event.detail.issueRequest(true);
    }
  });

  // --- Keyboard ------------------------------------------------------------------------------------
  function rows() {
    var list = document.querySelector("[data-keyboard-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("tr[data-href]")) : [];
  }
  function currentRow() {
    return document.querySelector("tr.kb-current[data-href]");
  }
  function moveBy(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    all.forEach(function (row) { row.classList.remove("kb-current"); row.removeAttribute("aria-current"); });
    next.classList.add("kb-current");
    next.setAttribute("aria-current", "true");
    next.scrollIntoView({ block: "nearest" });
  }
  function showKeys() {
    var dialog = document.getElementById("keys-help");
    if (dialog && !dialog.open) dialog.showModal();
  }
  function correct() {
    var form = document.querySelector("form.correction select");
    if (form) {
      form.scrollIntoView({ block: "center" });
      form.focus();
      return;
    }
    var row = currentRow();
    if (row) location.href = row.getAttribute("data-href") + "#correct";
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-show-keys]")) showKeys();
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var typing = event.target.closest("input, select, textarea, [contenteditable]");
    if (typing) {
      if (event.key === "Escape") {
        // Leave the field as it is: a search box would otherwise clear itself, and the list with it.
        event.preventDefault();
        event.target.blur();
      }
      return;
    }
    var dialog = document.getElementById("keys-help");
    if (dialog && dialog.open) return;
    var row = currentRow();
    switch (event.key) {
      case "/": {
        var search = document.getElementById("search");
        event.preventDefault();
        if (!search) {
          location.href = document.body.getAttribute("data-list-url") + "#search";
          return;
        }
        var box = search.closest("details");
        if (box) box.open = true;
        search.focus();
        search.select();
        break;
      }
      case "j": moveBy(1); break;
      case "k": moveBy(-1); break;
      case "o":
      case "Enter":
        if (!row || event.target.closest("a, button")) return;
        location.href = row.getAttribute("data-href");
        break;
      case "x": {
        var box2 = row && row.querySelector("input[type=checkbox][name=ids]");
        if (!box2) return;
        box2.checked = !box2.checked;
        refreshBulk();
        break;
      }
      case "e": correct(); break;
      case "?": showKeys(); break;
      default: return;
    }
  });
  // Arriving at a ticket's #correct (from the review list or the e key): focus the correction form.
  window.addEventListener("load", function () {
    if (location.hash === "#correct") correct();
    var search = document.getElementById("search");
    if (location.hash === "#search" && search) search.focus();
  });

  // --- Lost contact -------------------------------------------------------------------------------
  // A poll that cannot reach the server, or gets a 5xx, shows a notice; the next answer hides it. htmx
  // keeps polling meanwhile, so the page recovers by itself.
  function connection(lost) {
    var notice = document.getElementById("connection");
    if (notice) notice.hidden = !lost;
  }
  document.addEventListener("htmx:sendError", function () { connection(true); });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr && event.detail.xhr.status >= 500) connection(true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status > 0 && xhr.status < 500) connection(false);
  });

  // --- Copy the suggested reply ---------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
      selection.removeAllRanges();
      done();
    }
  });
})();
