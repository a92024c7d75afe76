// Nav dropdowns: a menu button shows its list; a click elsewhere or Escape closes it.
(function () {
  "use strict";
  function closeAll(except) {
    document.querySelectorAll(".menu-button[aria-expanded='true']").forEach(function (button) {
      if (button !== except) {
        button.setAttribute("aria-expanded", "false");
        document.getElementById(button.getAttribute("aria-controls")).hidden = true;
      }
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".menu-button");
    closeAll(button);
    if (!button) { return; }
    var open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", open ? "false" : "true");
    document.getElementById(button.getAttribute("aria-controls")).hidden = open;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeAll(null); }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-action='print']")) { window.print(); }
  });
})();
