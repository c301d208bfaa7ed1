// The plugin catalog's enhancements: search, category filter, copy buttons, README language.
// The page is complete without this script; it only reads what the HTML already holds.
(function () {
  "use strict";

  var body = document.body;
  // the tree root: the directory this page is served from (the /plugins/ URL)
  var base = new URL(".", document.baseURI).href;
  var placeholder = body.getAttribute("data-placeholder-base");
  var patternPath = body.getAttribute("data-pattern-path");
  var pattern = base + patternPath;
  var status = document.getElementById("status");
  var statusTimer = 0;

  function say(text, ms) {
    status.textContent = text;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(function () { status.textContent = ""; }, ms || 2500);
  }

  // ---- copy ----------------------------------------------------------------

  function legacyCopy(text) {
    // for pages served over plain http under a host name, where navigator.clipboard is absent
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "clip";
    body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    body.removeChild(area);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        if (!legacyCopy(text)) { throw new Error("refused"); }
      });
    }
    return legacyCopy(text) ? Promise.resolve() : Promise.reject(new Error("refused"));
  }

  function textFor(button) {
    var kind = button.getAttribute("data-copy");
    if (kind === "pattern") { return pattern; }
    var row = button.closest("tr.entry");
    if (kind === "url") { return base + row.getAttribute("data-path"); }
    if (kind === "sha256") { return row.getAttribute("data-sha256"); }
    if (kind === "yaml") { return row.getAttribute("data-yaml").split(placeholder).join(base); }
    return "";
  }

  function describe(button) {
    var row = button.closest("tr.entry");
    var what = button.textContent;
    if (!row) { return what; }
    return what + " of " + row.closest("tbody").getAttribute("data-name") + " " + row.getAttribute("data-version");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var text = textFor(button);
    var label = describe(button);
    copyText(text).then(function () {
      button.classList.add("copied");
      setTimeout(function () { button.classList.remove("copied"); }, 1200);
      say("Copied " + label);
    }, function () {
      say("Could not copy; here it is: " + text, 15000);
    });
  });

  var buttons = document.querySelectorAll("button[data-copy]");
  for (var b = 0; b < buttons.length; b++) { buttons[b].hidden = false; }
  document.getElementById("pattern").textContent = pattern;

  // ---- search and category filter -----------------------------------------

  var search = document.getElementById("search");
  var category = document.getElementById("category");
  var shown = document.getElementById("shown");
  var noMatch = document.getElementById("no-match");
  var plugins = Array.prototype.slice.call(document.querySelectorAll("#catalog > tbody.plugin"));
  var haystacks = plugins.map(function (p) { return p.getAttribute("data-search"); });
  var categories = plugins.map(function (p) { return p.getAttribute("data-category"); });

  function apply() {
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var cat = category.value;
    var count = 0;
    for (var i = 0; i < plugins.length; i++) {
      var hay = haystacks[i];
      var ok = (!cat || categories[i] === cat) && terms.every(function (t) { return hay.indexOf(t) !== -1; });
      if (plugins[i].hidden === ok) { plugins[i].hidden = !ok; }
      if (ok) { count++; }
    }
    shown.textContent = count + " of " + plugins.length + " plugins";
    noMatch.hidden = count !== 0 || plugins.length === 0;
  }

  function remember() {
    var params = new URLSearchParams(location.search);
    if (search.value) { params.set("q", search.value); } else { params.delete("q"); }
    if (category.value) { params.set("category", category.value); } else { params.delete("category"); }
    var query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }

  var initial = new URLSearchParams(location.search);
  search.value = initial.get("q") || "";
  var wanted = initial.get("category") || "";
  if (Array.prototype.some.call(category.options, function (o) { return o.value === wanted; })) {
    category.value = wanted;
  }
  search.addEventListener("input", function () { apply(); remember(); });
  category.addEventListener("change", function () { apply(); remember(); });
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.key === "/" && t !== search && !/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) {
      event.preventDefault();
      search.focus();
    }
  });
  document.getElementById("controls").hidden = false;
  apply();

  // ---- README language: one choice for every plugin ------------------------

  function chooseLanguage(lang) {
    var radios = document.querySelectorAll("input.lang");
    for (var i = 0; i < radios.length; i++) {
      if (radios[i].value === lang) { radios[i].checked = true; }
    }
  }
  var languages = navigator.languages || [navigator.language || ""];
  if (languages.length && /^zh\b/i.test(languages[0])) { chooseLanguage("zh"); }
  document.addEventListener("change", function (event) {
    if (event.target.matches("input.lang")) { chooseLanguage(event.target.value); }
  });
})();
