/*
 * Scenecart embed: one tag plays the product video that fits the shopper.
 *
 *   <script src="https://scenecart.example.com/static/scenecart/embed.js" defer></script>
 *   <scenecart-video merchant="northwind" sku="RAIN-JKT-01" aspect="16:9"></scenecart-video>
 *
 * Attributes: merchant, sku, aspect (16:9 | 9:16 | 1:1), token (signed shopper token from the
 * shop's server), climate / aesthetic / time (hints, honoured when the shop allows them),
 * consent (0 | 1), api (Scenecart's base URL; default: where this script came from),
 * fallback-src (a video to play when Scenecart cannot answer). Light-DOM children (e.g. the
 * product photo) are shown until a video plays.
 *
 * The element asks the video lookup only once it is near the viewport, plays what it gets muted
 * and looped, polls while the shopper's own variant renders and swaps to it without a black
 * frame, reports impressions/plays/quartiles/completes/clicks in batches, and never throws into
 * the page: on any failure it falls back to the generic video, then to fallback-src. A product
 * the shop archived or deleted (the lookup's 404) hides the element (data-status="gone").
 *
 * Events: "scenecart:variant" (bubbles, composed) with the lookup response as detail, on every
 * resolution. Host attributes for CSS and tests: data-status, data-variant, data-personalized,
 * data-requested. Parts: ::part(frame), ::part(video), ::part(placeholder).
 */
(function () {
  "use strict";

  if (typeof window === "undefined" || !window.customElements || !window.HTMLElement) return;
  if (window.customElements.get("scenecart-video")) return;

  var TAG = "scenecart-video";
  var SCRIPT = document.currentScript;
  var DEFAULT_API = (function () {
    try {
      if (SCRIPT && SCRIPT.src) return new URL(SCRIPT.src, window.location.href).origin;
    } catch (e) { /* fall through */ }
    return window.location.origin;
  })();

  var RATIOS = { "16:9": "16 / 9", "9:16": "9 / 16", "1:1": "1 / 1" };
  var DEFAULT_ASPECT = "16:9";
  var POLL_FIRST_MS = 2000;
  var POLL_FACTOR = 1.6;
  var POLL_CAP_MS = 30000;
  var POLL_TRIES = 12;
  var FLUSH_MS = 1500;
  var BATCH_MAX = 20;
  var QUARTILES = [25, 50, 75];
  var COHORT_KEY = "scenecart:cohort";
  var CONTEXT_ATTRIBUTES = [
    "merchant", "sku", "aspect", "token", "climate", "aesthetic", "time", "consent", "api",
  ];
  var HINTS = ["climate", "aesthetic", "time"];

  /** The lookup's 404: the shop no longer sells this product (or never did). */
  function ProductGone() {
    this.name = "ProductGone";
  }
  ProductGone.prototype = Object.create(Error.prototype);

  // --- Shopper signals ----------------------------------------------------------------------

  var memoryCohort = null;

  /** A number 0–99 that stays the same for this browser (holdout groups are cut by it). */
  function cohort() {
    try {
      var stored = window.localStorage.getItem(COHORT_KEY);
      var value = stored === null ? NaN : Number(stored);
      if (Number.isInteger(value) && value >= 0 && value <= 99) return value;
      value = Math.floor(Math.random() * 100);
      window.localStorage.setItem(COHORT_KEY, String(value));
      return value;
    } catch (e) {
      // Storage can be disabled or full (Safari private mode, sandboxed iframes).
      if (memoryCohort === null) memoryCohort = Math.floor(Math.random() * 100);
      return memoryCohort;
    }
  }

  function timeZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return "";
    }
  }

  // --- Playback events: queued per Scenecart and shop, sent in batches ---------------------

  var queues = {};
  var flushTimer = null;

  function enqueue(api, merchant, event) {
    var key = api + "\n" + merchant;
    var queue = queues[key];
    if (!queue) {
      queue = queues[key] = { url: api + "/api/v1/events", merchant: merchant, events: [] };
    }
    queue.events.push(event);
    if (queue.events.length >= BATCH_MAX) {
      flush(false);
    } else if (flushTimer === null) {
      flushTimer = window.setTimeout(function () {
        flushTimer = null;
        flush(false);
      }, FLUSH_MS);
    }
  }

  function flush(leaving) {
    if (flushTimer !== null) {
      window.clearTimeout(flushTimer);
      flushTimer = null;
    }
    Object.keys(queues).forEach(function (key) {
      var queue = queues[key];
      while (queue.events.length) {
        var batch = queue.events.splice(0, BATCH_MAX);
        send(queue.url, JSON.stringify({ merchant: queue.merchant, events: batch }), leaving);
      }
    });
  }

  // A string body goes as text/plain;charset=UTF-8: a "simple" request, so no CORS preflight.
  function send(url, body, leaving) {
    try {
      if (leaving && navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
      if (window.fetch) {
        window.fetch(url, {
          method: "POST",
          body: body,
          keepalive: true,
          mode: "no-cors",
          credentials: "omit",
        }).catch(function () { /* analytics never break playback */ });
      } else if (navigator.sendBeacon) {
        navigator.sendBeacon(url, body);
      }
    } catch (e) { /* analytics never break playback */ }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });
  window.addEventListener("pagehide", function () { flush(true); });

  // --- Helpers ---------------------------------------------------------------------------

  function play(video) {
    try {
      var promise = video.play();
      // Autoplay can be refused (power saving, policies): the poster stays, nothing breaks.
      if (promise && typeof promise.catch === "function") promise.catch(function () {});
    } catch (e) { /* ignore */ }
  }

  function retire(video) {
    video.__scenecartRetired = true;
    try {
      video.pause();
      video.removeAttribute("src");
      video.load();
    } catch (e) { /* ignore */ }
    if (video.parentNode) video.parentNode.removeChild(video);
  }

  var STYLE =
    ":host{display:block;position:relative;overflow:hidden;background:#0f1522;" +
    "contain:layout paint;}" +
    ":host([hidden]){display:none;}" +
    ".frame{position:absolute;inset:0;}" +
    "video{position:absolute;inset:0;width:100%;height:100%;display:block;" +
    "object-fit:var(--scenecart-fit,cover);transition:opacity .25s ease;}" +
    "video.incoming{opacity:0;pointer-events:none;}" +
    ".placeholder{position:absolute;inset:0;display:flex;align-items:center;" +
    "justify-content:center;overflow:hidden;}" +
    ".frame.has-video .placeholder{display:none;}" +
    "::slotted(img){max-width:100%;max-height:100%;object-fit:contain;}";

  // --- The element -----------------------------------------------------------------------

  class ScenecartVideo extends HTMLElement {
    static get observedAttributes() {
      return CONTEXT_ATTRIBUTES;
    }

    constructor() {
      super();
      var root = this.attachShadow({ mode: "open" });
      root.innerHTML =
        "<style>" + STYLE + "</style><style class=\"ratio\"></style>" +
        "<div class=\"frame\" part=\"frame\">" +
        "<div class=\"placeholder\" part=\"placeholder\"><slot></slot></div></div>";
      this._ratioStyle = root.querySelector("style.ratio");
      this._frame = root.querySelector(".frame");
      this._video = null; // the <video> on screen
      this._incoming = null; // the next one, loading out of sight
      this._context = 0; // bumped whenever what to show must be decided again
      this._stage = 0; // 0: as asked, 1: generic retry, 2: fallback-src, 3: gave up
      this._failed = {}; // sources that errored in this context
      this._abort = null;
      this._pollTimer = null;
      this._pollDelay = POLL_FIRST_MS;
      this._pollTries = 0;
      this._active = false;
      this._visible = false;
      this._onScreen = true;
      this._lazyObserver = null;
      this._seenObserver = null;
      this._resolveQueued = false;
      this._hiddenByUs = false; // the product is gone (404); shown again on the next resolve
      this.addEventListener("click", this._onClick.bind(this));
    }

    /** The <video> currently on screen (null before the first one). */
    get video() {
      return this._video;
    }

    connectedCallback() {
      this._applyAspect();
      if (this._active) return;
      if (!("IntersectionObserver" in window)) {
        this._activate();
        return;
      }
      var self = this;
      this._lazyObserver = new IntersectionObserver(function (entries) {
        if (!entries.some(function (entry) { return entry.isIntersecting; })) return;
        self._lazyObserver.disconnect();
        self._lazyObserver = null;
        self._activate();
      }, { rootMargin: "200px" });
      this._lazyObserver.observe(this);
    }

    disconnectedCallback() {
      if (this._lazyObserver) this._lazyObserver.disconnect();
      if (this._seenObserver) this._seenObserver.disconnect();
      this._lazyObserver = this._seenObserver = null;
      this._active = false;
      this._visible = false;
      this._context += 1;
      this._cancelWork();
      if (this._video) this._video.pause();
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (oldValue === newValue) return;
      if (name === "aspect") this._applyAspect();
      if (!this._active) return;
      // Whatever the previous context was still waiting for no longer applies.
      this._context += 1;
      this._cancelWork();
      if (this._resolveQueued) return;
      // Coalesce several attribute changes made together (a shopper switch sets many).
      this._resolveQueued = true;
      var self = this;
      Promise.resolve().then(function () {
        self._resolveQueued = false;
        if (self._active) self._resolve();
      });
    }

    // --- Resolution ----------------------------------------------------------------------

    _activate() {
      this._active = true;
      this._watchVisibility();
      this._resolve();
    }

    _resolve() {
      if (this._hiddenByUs) {
        // Asked again (another SKU, say): the product may be back on sale.
        this._hiddenByUs = false;
        this.hidden = false;
      }
      this._context += 1;
      this._stage = 0;
      this._failed = {};
      this._cancelWork();
      this._pollDelay = POLL_FIRST_MS;
      this._pollTries = 0;
      this._lookup(this._context, false, false);
    }

    _cancelWork() {
      if (this._pollTimer !== null) window.clearTimeout(this._pollTimer);
      this._pollTimer = null;
      if (this._abort) this._abort.abort();
      this._abort = null;
    }

    _aspect() {
      var aspect = (this.getAttribute("aspect") || DEFAULT_ASPECT).trim();
      return RATIOS[aspect] ? aspect : DEFAULT_ASPECT;
    }

    _applyAspect() {
      this._ratioStyle.textContent = ":host{aspect-ratio:" + RATIOS[this._aspect()] + ";}";
    }

    _api() {
      return (this.getAttribute("api") || DEFAULT_API).replace(/\/+$/, "");
    }

    _lookupUrl(generic) {
      var params = new URLSearchParams();
      params.set("aspect", this.getAttribute("aspect") || DEFAULT_ASPECT);
      if (generic) {
        params.set("consent", "0");
      } else {
        var token = this.getAttribute("token");
        if (token) params.set("st", token);
        var self = this;
        HINTS.forEach(function (hint) {
          var value = self.getAttribute(hint);
          if (value) params.set(hint, value);
        });
        var consent = this.getAttribute("consent");
        if (consent === "0" || consent === "1") params.set("consent", consent);
      }
      var zone = timeZone();
      if (zone) params.set("tz", zone);
      params.set("cohort", String(cohort()));
      return this._api() + "/api/v1/videos/" +
        encodeURIComponent(this.getAttribute("merchant") || "") + "/" +
        encodeURIComponent(this.getAttribute("sku") || "") + "?" + params.toString();
    }

    _lookup(context, generic, polling) {
      if (!this.getAttribute("merchant") || !this.getAttribute("sku")) {
        this._degrade(context);
        return;
      }
      var self = this;
      var controller = typeof AbortController === "function" ? new AbortController() : null;
      this._abort = controller;
      var request;
      try {
        request = window.fetch(this._lookupUrl(generic), {
          credentials: "omit",
          // A poll must reach the server: the answer it is waiting for replaces a cached one.
          cache: polling ? "no-cache" : "default",
          headers: { Accept: "application/json" },
          signal: controller ? controller.signal : undefined,
        });
      } catch (e) {
        request = Promise.reject(e);
      }
      request
        .then(function (response) {
          if (response.status === 404) throw new ProductGone();
          if (!response.ok) throw new Error("Scenecart lookup answered " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (context !== self._context) return;
          self._abort = null;
          self._apply(context, data, generic);
        })
        .catch(function (error) {
          if (context !== self._context || (error && error.name === "AbortError")) return;
          self._abort = null;
          if (error instanceof ProductGone) {
            self._hide(context);
            return;
          }
          if (polling && self._video) {
            // A blip while a video plays: keep it and ask again later.
            self._schedulePoll(context, generic);
          } else {
            self._degrade(context);
          }
        });
    }

    _apply(context, data, generic) {
      if (!data || typeof data !== "object") {
        this._degrade(context);
        return;
      }
      if (data.src && this._failed[data.src]) {
        // The lookup names a source that already failed to play here.
        this._useFallbackSrc(context);
        return;
      }
      this._report(data);
      var fallbackSrc = this.getAttribute("fallback-src");
      if (data.src) {
        this._show(data);
      } else if (fallbackSrc && !this._failed[fallbackSrc]) {
        // Nothing of this product is ready: play the page's own video while Scenecart renders.
        this._show(this._fallbackSrcData(data.requested));
      } else {
        // Nothing to play (another product's video must not stay on screen).
        this._clear();
      }
      if (data.status !== "ready" && (data.requested === "rendering" ||
          data.requested === "refreshing")) {
        this._schedulePoll(context, generic);
      }
    }

    _schedulePoll(context, generic) {
      if (this._pollTries >= POLL_TRIES) return;
      var self = this;
      var delay = this._pollDelay;
      this._pollTries += 1;
      this._pollDelay = Math.min(this._pollDelay * POLL_FACTOR, POLL_CAP_MS);
      this._pollTimer = window.setTimeout(function () {
        self._pollTimer = null;
        if (context === self._context && self._active) self._lookup(context, generic, true);
      }, delay);
    }

    /** The next step down: the generic video, then fallback-src, then the placeholder. */
    _degrade(context) {
      if (context !== this._context) return;
      this._cancelWork();
      if (this._stage === 0) {
        this._stage = 1;
        this._lookup(context, true, false);
        return;
      }
      this._useFallbackSrc(context);
    }

    _fallbackSrcData(requested) {
      return {
        status: "fallback",
        src: this.getAttribute("fallback-src"),
        poster: null,
        variant: "fallback-src",
        personalized: false,
        requested: requested || "failed",
        video: null,
        holdout: false,
      };
    }

    /** The product is archived or deleted (the lookup answers 404): no player at all, not
     * even the page's fallback video, so nothing is shown for what the shop no longer sells. */
    _hide(context) {
      if (context !== this._context) return;
      this._cancelWork();
      this._stage = 3;
      this._clear();
      this._hiddenByUs = true;
      this.hidden = true;
      this._report({
        status: "gone", src: null, poster: null, variant: "", personalized: false,
        requested: "gone", video: null, holdout: false,
      });
    }

    _useFallbackSrc(context) {
      if (context !== this._context) return;
      this._cancelWork();
      var src = this.getAttribute("fallback-src");
      if (this._stage < 2 && src && !this._failed[src]) {
        this._stage = 2;
        var data = this._fallbackSrcData("failed");
        this._report(data);
        this._show(data);
        return;
      }
      this._stage = 3;
      this._clear();
      this._report({
        status: "error", src: null, poster: null, variant: "", personalized: false,
        requested: "failed", video: null, holdout: false,
      });
    }

    _report(data) {
      this.setAttribute("data-status", String(data.status || ""));
      this.setAttribute("data-variant", String(data.variant || ""));
      this.setAttribute("data-personalized", data.personalized ? "true" : "false");
      this.setAttribute("data-requested", String(data.requested || ""));
      try {
        this.dispatchEvent(
          new CustomEvent("scenecart:variant", { detail: data, bubbles: true, composed: true })
        );
      } catch (e) { /* a listener's error is the page's business */ }
    }

    // --- Playback -------------------------------------------------------------------------

    _show(data) {
      var current = this._video;
      if (current && current.getAttribute("src") === data.src) {
        if (current.paused && this._onScreen) play(current);
        return;
      }
      if (this._incoming) {
        if (this._incoming.getAttribute("src") === data.src) return;
        retire(this._incoming);
        this._incoming = null;
      }
      var video = this._makeVideo(data);
      if (current && !current.error && current.readyState >= 2) {
        // Keep the current video playing until the next one has a frame to show.
        var self = this;
        video.classList.add("incoming");
        this._incoming = video;
        video.addEventListener("canplay", function () {
          if (self._incoming !== video) return;
          self._promote(video);
          if (self._onScreen) play(video);
        });
        this._frame.appendChild(video);
      } else {
        if (current) retire(current);
        this._frame.appendChild(video);
        this._promote(video);
      }
      // The poster first, then the source.
      if (data.poster) video.poster = data.poster;
      video.src = data.src;
      if (this._onScreen) play(video);
    }

    /** No video: the light-DOM placeholder (e.g. the product photo) shows instead. */
    _clear() {
      if (this._incoming) retire(this._incoming);
      if (this._video) retire(this._video);
      this._incoming = this._video = null;
      this._frame.classList.remove("has-video");
    }

    _makeVideo(data) {
      var video = document.createElement("video");
      video.muted = true;
      video.defaultMuted = true;
      video.setAttribute("muted", "");
      video.playsInline = true;
      video.setAttribute("playsinline", "");
      video.loop = true;
      // Started with play() rather than the autoplay attribute, so it waits while off screen.
      video.autoplay = false;
      video.preload = "auto";
      video.setAttribute("part", "video");
      video.__scenecartView = {
        api: this._api(),
        merchant: this.getAttribute("merchant") || "",
        video: typeof data.video === "number" ? data.video : null,
        holdout: !!data.holdout,
        impression: false,
        play: false,
        quartiles: {},
        complete: false,
        last: 0,
      };
      var self = this;
      video.addEventListener("playing", function () { self._track(video, "playing"); });
      video.addEventListener("timeupdate", function () { self._track(video, "timeupdate"); });
      video.addEventListener("error", function () { self._onVideoError(video); });
      return video;
    }

    _promote(video) {
      var old = this._video;
      this._video = video;
      this._incoming = null;
      video.classList.remove("incoming");
      if (old && old !== video) retire(old);
      this._frame.classList.add("has-video");
      if (this._visible) this._track(video, "visible");
      if (!video.paused && video.readyState > 2) this._track(video, "playing");
    }

    _onVideoError(video) {
      if (video.__scenecartRetired) return;
      var src = video.getAttribute("src");
      if (src) this._failed[src] = true;
      if (video === this._incoming) {
        retire(video);
        this._incoming = null;
      }
      var context = this._context;
      var view = video.__scenecartView;
      // A personalized or fallback variant failed: ask for the generic one; if the generic
      // one failed, go straight to the page's own video.
      if (this._stage === 0 && view && view.video !== null && this.getAttribute("data-variant") !== "generic") {
        this._degrade(context);
      } else {
        this._useFallbackSrc(context);
      }
    }

    _onClick() {
      if (this._video) this._track(this._video, "click");
    }

    _watchVisibility() {
      this._onScreen = true;
      if (!("IntersectionObserver" in window)) {
        this._visible = true;
        return;
      }
      var self = this;
      this._seenObserver = new IntersectionObserver(function (entries) {
        var entry = entries[entries.length - 1];
        var root = entry.rootBounds;
        // Half of the element, or half of the viewport for elements taller than it.
        // Off screen, a video only costs battery: pause it until it comes back.
        self._onScreen = entry.isIntersecting;
        var shown = self._video;
        if (shown && !entry.isIntersecting && !shown.paused) shown.pause();
        if (shown && entry.isIntersecting && shown.paused) play(shown);
        self._visible = entry.isIntersecting && (
          entry.intersectionRatio >= 0.5 ||
          (root !== null && entry.intersectionRect.height >= root.height * 0.5)
        );
        if (self._visible && self._video) self._track(self._video, "visible");
      }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
      this._seenObserver.observe(this);
    }

    /** Playback analytics of one variant view; never lets an error reach playback. */
    _track(video, what) {
      try {
        var view = video.__scenecartView;
        if (!view || view.video === null || video !== this._video) return;
        var emit = function (type, extra) {
          var event = { type: type, video: view.video, holdout: view.holdout };
          if (extra) event.quartile = extra;
          enqueue(view.api, view.merchant, event);
        };
        if (what === "visible") {
          if (!view.impression) {
            view.impression = true;
            emit("impression");
          }
        } else if (what === "playing") {
          if (!view.play) {
            view.play = true;
            emit("play");
          }
        } else if (what === "click") {
          emit("click");
        } else if (what === "timeupdate") {
          var duration = video.duration;
          var now = video.currentTime;
          if (!(duration > 0) || !isFinite(duration)) return;
          QUARTILES.forEach(function (quartile) {
            if (!view.quartiles[quartile] && now / duration * 100 >= quartile) {
              view.quartiles[quartile] = true;
              emit("progress", quartile);
            }
          });
          // The video loops, so "ended" never fires: the end is a wrap-around or the last moment.
          var wrapped = view.last > duration * 0.5 && now < view.last - 0.5;
          if (!view.complete && (wrapped || now >= duration - 0.3)) {
            if (wrapped) {
              QUARTILES.forEach(function (quartile) {
                if (!view.quartiles[quartile]) {
                  view.quartiles[quartile] = true;
                  emit("progress", quartile);
                }
              });
            }
            view.complete = true;
            emit("complete");
          }
          view.last = now;
        }
      } catch (e) { /* analytics never break playback */ }
    }
  }

  window.customElements.define(TAG, ScenecartVideo);
})();
