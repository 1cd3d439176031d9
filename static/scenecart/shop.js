// Demo shop product page: the shopper switcher and the "now playing" readout.
//
// A real storefront renders the signed token of the logged-in shopper into the tag on its
// server. This page offers the demo's personas, played as context hints (a place and a taste,
// never a profile id or a token), and, to a signed-in member of the shop, the shop's own
// shoppers with tokens. Anonymous visitors can be given context hints when the shop's policy
// allows them.
(function () {
  "use strict";

  var player = document.getElementById("product-video");
  var shopper = document.getElementById("shopper");
  var hints = document.querySelector("fieldset.hints");
  if (!player || !shopper || !hints) return;
  var hintsAllowed = hints.getAttribute("data-allowed") === "true";

  function setAttr(name, value) {
    if (value) {
      if (player.getAttribute(name) !== value) player.setAttribute(name, value);
    } else if (player.hasAttribute(name)) {
      player.removeAttribute(name);
    }
  }

  // Copy the switcher's state onto the component; it re-resolves by itself on changes.
  function apply() {
    var option = shopper.options[shopper.selectedIndex];
    var token = option ? option.getAttribute("data-token") : "";
    var persona = Boolean(option && option.hasAttribute("data-climate"));
    setAttr("token", token);
    hints.disabled = !hintsAllowed || Boolean(token) || persona;
    if (persona) {
      // A demo persona: its place's climate and its taste, and its consent, as hints.
      setAttr("climate", option.getAttribute("data-climate"));
      setAttr("aesthetic", option.getAttribute("data-aesthetic"));
      setAttr("time", "");
      setAttr("consent", option.getAttribute("data-consent") === "true" ? "" : "0");
      return;
    }
    setAttr("consent", "");
    Array.prototype.forEach.call(hints.querySelectorAll("select"), function (select) {
      setAttr(select.name, !token && hintsAllowed ? select.value : "");
    });
  }

  var NOTES = {
    rendering: "This shopper’s own variant is rendering; it replaces this one when ready.",
    unapproved: "The shop does not render this shopper’s exact context; this is the closest variant it approves.",
    failed: "This shopper’s variant failed to render.",
  };

  function field(name) {
    return document.querySelector('[data-field="' + name + '"]');
  }

  player.addEventListener("scenecart:variant", function (event) {
    var data = event.detail || {};
    field("variant").textContent = data.variant || "–";
    field("status").textContent = data.status || "–";
    field("personalized").textContent = data.personalized ? "yes" : "no";
    var note = "";
    if (data.holdout) {
      note = "This visitor is in the shop’s holdout group: everyone there sees the generic video.";
    } else if (data.status === "error") {
      note = "No video could be played.";
    } else if (data.requested && data.requested !== "ready") {
      note = NOTES[data.requested] || "";
    }
    field("note").textContent = note;
    document.querySelector(".now-playing").setAttribute("data-status", data.status || "");
  });

  shopper.addEventListener("change", apply);
  hints.addEventListener("change", apply);
  apply();
})();
