/* seatwise: the few behaviours the pages add when JavaScript runs (each also works as a plain
   form without it). A static file, so a `script-src 'self'` policy holds.
   - select[data-autosubmit]: choosing a value sends its form.
   - the Users column chooser (form[data-columns-for]): ticking a column sends the form; the
     choice is remembered in localStorage and brought back when /users is opened without one.
   - input[data-select-all]: ticks or clears every box of its rule's section. */
(function () {
  "use strict";
  var KEY = "seatwise.users.columns";

  function store(name, value) {
    try { window.localStorage.setItem(name, value); } catch (e) { /* private mode: no memory */ }
  }
  function recall(name) {
    try { return window.localStorage.getItem(name); } catch (e) { return null; }
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  document.querySelectorAll("form[data-columns-for]").forEach(function (form) {
    var table = document.getElementById(form.getAttribute("data-columns-for"));
    var shown = Array.prototype.map.call(
      table.querySelectorAll("thead th:not(.opt)"), function (th) { return th.getAttribute("data-col"); }
    ).join(",");
    var params = new URLSearchParams(window.location.search);
    var remembered = recall(KEY);
    if (!params.has("cols") && !params.has("col") && remembered && remembered !== shown) {
      params.set("cols", remembered);
      window.location.replace(window.location.pathname + "?" + params.toString());
      return;
    }
    store(KEY, shown);
    form.querySelectorAll("input[name=col]").forEach(function (box) {
      box.addEventListener("change", function () { form.submit(); });
    });
    var reset = form.querySelector("[data-columns-reset]");
    if (reset) {
      reset.addEventListener("click", function () { store(KEY, table.getAttribute("data-default-columns")); });
    }
  });

  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var section = document.getElementById(all.getAttribute("data-select-all"));
    var boxes = section.querySelectorAll("input[name=pick]");
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        if (!box.checked) { all.checked = false; }
      });
    });
  });
})();
