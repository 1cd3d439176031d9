// Demo home page: each product card shows the video of the selected shopper context and keeps
// asking the video lookup until that variant is ready ("Rendering…" until then).
(function () {
  "use strict";

  function lookupUrl(card, context) {
    var params = new URLSearchParams({ aspect: "16:9" });
    context.split(",").forEach(function (pair) {
      var parts = pair.split("=");
      if (parts.length === 2) params.set(parts[0], parts[1]);
    });
    return "/api/v1/videos/" + encodeURIComponent(card.dataset.merchant) + "/" +
      encodeURIComponent(card.dataset.sku) + "?" + params.toString();
  }

  function show(card, data) {
    var video = card.querySelector("video");
    var status = card.querySelector(".status");
    var text = card.querySelector(".status-text");
    if (data.status === "ready" && data.src) {
      if (video.getAttribute("src") !== data.src) {
        video.poster = data.poster || "";
        video.src = data.src;
        video.play().catch(function () {});
      }
      video.hidden = false;
      status.hidden = true;
      return true;
    }
    video.hidden = true;
    video.removeAttribute("src");
    status.hidden = false;
    text.textContent = "Rendering…";
    return false;
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
