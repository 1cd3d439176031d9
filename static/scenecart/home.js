// Demo home page: each product card plays the video of the selected shopper context. While
// that variant renders, the card plays the best ready fallback (or shows the product photo)
// and keeps asking the video lookup, with backoff, until the variant is ready or has failed.
(function () {
  "use strict";

  var MESSAGES = {
    rendering: "Rendering this variant…",
    missing: "Not generated yet",
    failed: "Video failed",
  };

  function lookupUrl(card, context) {
    var params = new URLSearchParams({ aspect: "16:9" });
    context.split(",").forEach(function (pair) {
      var parts = pair.split("=");
      if (parts.length === 2) params.set(parts[0], parts[1]);
    });
    return "/api/v1/videos/" + encodeURIComponent(card.dataset.merchant) + "/" +
      encodeURIComponent(card.dataset.sku) + "?" + params.toString();
  }

  // Show what the lookup returned; true when there is nothing more to wait for.
  function show(card, data) {
    var video = card.querySelector("video");
    var status = card.querySelector(".status");
    var text = card.querySelector(".status-text");
    var note = card.querySelector(".variant-note");
    var playable = (data.status === "ready" || data.status === "fallback") && data.src;
    if (playable) {
      if (video.getAttribute("src") !== data.src) {
        video.poster = data.poster || "";
        video.src = data.src;
        video.play().catch(function () {});
      }
      video.hidden = false;
      status.hidden = true;
    } else {
      video.hidden = true;
      video.removeAttribute("src");
      status.hidden = false;
    }
    var message = data.requested === "ready" ? "" : MESSAGES[data.requested] || "";
    if (data.requested === "failed" && data.error) message += ": " + data.error;
    if (playable) {
      note.textContent = message ? message + " (showing " + data.variant + ")" : "";
    } else {
      note.textContent = "";
      text.textContent = message || MESSAGES.rendering;
    }
    return data.requested !== "rendering";
  }

  function follow(card, context) {
    card.dataset.following = context;
    var delay = 1500;
    function poll() {
      if (card.dataset.following !== context) return;
      fetch(lookupUrl(card, context), { headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (card.dataset.following !== context) return;
          if (!show(card, data)) {
            delay = Math.min(delay * 1.3, 8000);
            setTimeout(poll, delay);
          }
        })
        .catch(function () { setTimeout(poll, 8000); });
    }
    poll();
  }

  document.querySelectorAll("article.product").forEach(function (card) {
    var buttons = card.querySelectorAll(".variants button");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        buttons.forEach(function (b) { b.setAttribute("aria-selected", String(b === button)); });
        follow(card, button.dataset.context);
      });
    });
    follow(card, buttons[0].dataset.context);
  });
})();
