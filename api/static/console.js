// Progressive enhancement only: every page works without script.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
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
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
