// Sort and filter the entries table in the page; no library, no network.
(function () {
  "use strict";
  var table = document.getElementById("entries");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var form = document.getElementById("filters");
  var shown = document.getElementById("shown");
  var fields = ["family", "source", "status", "weights", "q"];

  function value(name) { var el = form.elements[name]; return el ? el.value.trim() : ""; }

  function statusMatches(tokens, status, weights) {
    return tokens.some(function (token) {
      var parts = token.split(":");
      var okStatus = !status || parts[0] === status;
      var okWeights = !weights || parts.length < 2 || parts[1] === weights;
      if (!status && weights) { okWeights = parts.length === 2 && parts[1] === weights; }
      return okStatus && okWeights;
    });
  }

  function apply() {
    var family = value("family"), source = value("source"), status = value("status"), weights = value("weights");
    var q = value("q").toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var tokens = (row.getAttribute("data-status") || "").split(" ").filter(Boolean);
      var visible = (!family || row.getAttribute("data-family") === family) &&
        (!source || row.getAttribute("data-source") === source) &&
        (!(status || weights) || statusMatches(tokens, status, weights)) &&
        (!q || row.getAttribute("data-text").indexOf(q) !== -1);
      row.hidden = !visible;
      if (visible) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " entries shown";
  }

  var params = new URLSearchParams(window.location.search);
  fields.forEach(function (name) {
    var el = form.elements[name];
    if (!el) { return; }
    if (params.has(name)) { el.value = params.get(name); }
    el.addEventListener("input", apply);
    el.addEventListener("change", apply);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });

  function sortKey(row, index, numeric) {
    var cell = row.cells[index];
    if (!numeric) { return cell.textContent.trim().toLowerCase(); }
    var v = cell.getAttribute("data-v");
    return v === null || v === "" ? null : parseFloat(v);
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var descending = th.getAttribute("aria-sort") === "ascending";
      var numeric = th.classList.contains("num");
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var keyed = rows.map(function (row, order) { return [sortKey(row, index, numeric), order, row]; });
      keyed.sort(function (a, b) {
        if (a[0] === b[0]) { return a[1] - b[1]; }
        if (a[0] === null) { return 1; }  // rows without a value stay last either way
        if (b[0] === null) { return -1; }
        var c = a[0] < b[0] ? -1 : 1;
        return descending ? -c : c;
      });
      rows = keyed.map(function (k) { return k[2]; });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  apply();
}());
