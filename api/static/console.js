// Progressive enhancement only: every page works without script.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // Every wide table scrolls inside a box of its own (a keyboard can scroll it too), so
  // no page is wider than a phone's screen. Pages of any template get this.
  function scrollBoxes() {
    document.querySelectorAll("table.list").forEach(function (table) {
      if (table.parentElement.classList.contains("table-scroll")) { return; }
      var box = document.createElement("div");
      box.className = "table-scroll";
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      var caption = table.querySelector("caption");
      var heading = caption || (table.closest("section, article") || document).querySelector("h1, h2, h3");
      box.setAttribute("aria-label", (heading && heading.textContent.trim()) || "表格");
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  // The score timeline opens with today in view (on a phone it is wider than the screen).
  function timelineAtToday() {
    document.querySelectorAll(".chart").forEach(function (chart) {
      var today = chart.querySelector("line.today");
      if (!today || chart.scrollWidth <= chart.clientWidth) { return; }
      var offset = today.getBoundingClientRect().left - chart.getBoundingClientRect().left;
      chart.scrollLeft += offset - chart.clientWidth * 0.6;
    });
  }

  // After a refused submit the focus goes to the first field in error (or the summary);
  // a result that appears on reload (a verification) takes the focus too.
  function focusWhatChanged() {
    var field = document.querySelector(".field.has-error input, .field.has-error select, " +
                                       ".field.has-error textarea");
    var target = field || document.querySelector("[data-focus]");
    if (target) {
      target.focus({preventScroll: true});
      target.scrollIntoView({block: "start"});
    }
  }

  ready(function () {
    scrollBoxes();
    timelineAtToday();
    focusWhatChanged();
    // Searchable catalogue: filter the <select>'s options by code or name.
    document.querySelectorAll("input[data-filters]").forEach(function (box) {
      var select = document.getElementById(box.getAttribute("data-filters"));
      if (!select) { return; }
      box.hidden = false;
      box.addEventListener("input", function () {
        var q = box.value.trim().toLowerCase();
        select.querySelectorAll("option").forEach(function (opt) {
          opt.hidden = q !== "" && opt.textContent.toLowerCase().indexOf(q) === -1;
        });
        select.querySelectorAll("optgroup").forEach(function (group) {
          group.hidden = !group.querySelector("option:not([hidden])");
        });
      });
    });
    // valid_until only for codes whose validity the decision fixes (e.g. BID-BAN).
    var code = document.getElementById("code"), until = document.getElementById("field-valid_until");
    if (code && until) {
      var sync = function () {
        var opt = code.options[code.selectedIndex];
        var explicit = opt && opt.getAttribute("data-explicit") === "yes";
        until.classList.toggle("needed", explicit);
        until.querySelector(".hint").textContent = explicit
          ? "该行为的有效期由决定书确定：必须填写。"
          : "该行为按目录自动计算有效期，请留空。";
      };
      code.addEventListener("change", sync);
      if (until.querySelector(".hint")) { sync(); }
    }
    // The document no. is needed only to accept an application.
    document.querySelectorAll("input[name=action]").forEach(function (radio) {
      var hint = document.getElementById("document-hint");
      radio.addEventListener("change", function () {
        if (hint && radio.checked) {
          hint.textContent = radio.value === "accept"
            ? "同意时必须填写信用修复或撤销决定的文号。" : "不予同意时可不填写。";
        }
      });
    });
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    // The printed page says when it was printed (the server's time until then).
    window.addEventListener("beforeprint", function () {
      var now = new Date(Date.now() + 8 * 3600 * 1000).toISOString();
      document.querySelectorAll("[data-print-time]").forEach(function (el) {
        el.textContent = now.slice(0, 10) + " " + now.slice(11, 19) + "（北京时间）";
      });
    });
  });
})();
